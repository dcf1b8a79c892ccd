import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { AnyReport } from '../../protocol/report';

/**
 * Reports stored on disk (in the extension's workspace storage) by the checkpoint's content hash
 * and the request that produced them, so reopening the workspace shows them at once and a changed
 * file no longer matches.
 */
export class ResultCache {
  constructor(private readonly folder: string | undefined) {}

  private fileFor(contentHash: string, requestKey: string): string | undefined {
    if (!this.folder) return undefined;
    const safe = `${contentHash.slice(0, 32)}-${simpleHash(requestKey)}.json`;
    return path.join(this.folder, 'reports', safe);
  }

  async get(contentHash: string, requestKey: string): Promise<AnyReport | undefined> {
    const file = this.fileFor(contentHash, requestKey);
    if (!file) return undefined;
    try {
      const stored = JSON.parse(await fs.readFile(file, 'utf8')) as { requestKey?: string; report?: AnyReport };
      return stored.requestKey === requestKey ? stored.report : undefined;
    } catch {
      return undefined;
    }
  }

  /** The last report stored for a checkpoint path, whatever the file's content is now. */
  async latest(checkpoint: string): Promise<{ contentHash: string; report: AnyReport } | undefined> {
    const entry = (await this.readLatest())[checkpoint];
    if (!entry) return undefined;
    const report = await this.get(entry.contentHash, entry.requestKey);
    return report ? { contentHash: entry.contentHash, report } : undefined;
  }

  private async readLatest(): Promise<Record<string, { contentHash: string; requestKey: string }>> {
    if (!this.folder) return {};
    try {
      return JSON.parse(await fs.readFile(path.join(this.folder, 'latest.json'), 'utf8')) as Record<string, { contentHash: string; requestKey: string }>;
    } catch {
      return {};
    }
  }

  async put(contentHash: string, requestKey: string, report: AnyReport): Promise<void> {
    const file = this.fileFor(contentHash, requestKey);
    if (!file) return;
    const latest = { ...(await this.readLatest()), [report.checkpoint.path]: { contentHash, requestKey } };
    await writeAtomically(path.join(this.folder!, 'latest.json'), JSON.stringify(latest));
    await writeAtomically(file, JSON.stringify({ requestKey, report }));
  }
}

async function writeAtomically(file: string, text: string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(temp, text);
  await fs.rename(temp, file);
}

function simpleHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}
