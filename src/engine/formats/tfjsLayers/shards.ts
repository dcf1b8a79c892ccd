/** Finding, checking and reading the binary weight shards a TF.js Layers model.json lists. */
import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, sep } from 'node:path';
import { sizeOf } from '../../model/spec';
import { FileProblem } from '../../../protocol/errors';
import { describeFsError, hasErrorCode } from '../../io/fsErrors';
import { storedBytesPerValue } from './modelJson';
import type { TfjsWeightsGroup } from './modelJson';
import { readJobFile } from '../../io/jobFiles';

const URL_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/**
 * The real path of a shard listed in the manifest, which must stay inside the model's folder.
 * `modelDir` must already be a real path (symlinks resolved). `kind` names such files in messages
 * (ONNX external data files get the same checks).
 */
export async function resolveShardPath(listed: string, modelDir: string, file: string, where: string, kind = 'shard'): Promise<string> {
  const refuse = (why: string): never => {
    throw new FileProblem(file, `${kind} path ${JSON.stringify(listed)} in ${where} ${why}; ${kind} files must be plain relative paths inside the model's folder`);
  };
  if (listed === '') refuse('is empty');
  let decoded = listed;
  try {
    decoded = decodeURIComponent(listed);
  } catch {
    refuse('is not valid percent-encoding');
  }
  for (const candidate of [listed, decoded]) {
    if (candidate.includes('\0')) refuse('contains a NUL character');
    if (candidate.includes('\\')) refuse('contains a backslash');
    if (URL_SCHEME.test(candidate)) refuse('is a URL');
    if (candidate.startsWith('/') || isAbsolute(candidate)) refuse('is absolute');
    if (candidate.split('/').includes('..')) refuse("contains '..'");
  }

  const joined = join(modelDir, decoded);
  let real: string;
  try {
    real = await realpath(joined);
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT')) throw new FileProblem(file, `${kind} file '${listed}' listed in ${where} is missing (looked for ${joined})`);
    throw new FileProblem(file, `cannot open ${kind} file '${listed}' listed in ${where} (${describeFsError(error)})`);
  }
  if (real === modelDir) refuse("names the model's folder itself, not a file in it");
  const insidePrefix = modelDir.endsWith(sep) ? modelDir : modelDir + sep;
  if (!real.startsWith(insidePrefix)) refuse(`leads outside the model's folder (to ${real}, through a symlink)`);
  return real;
}

/**
 * The real paths and sizes of one manifest group's shards, checked (with a stat, no reading)
 * against the bytes its weights need.
 */
export async function checkGroupShards(group: TfjsWeightsGroup, groupIndex: number, modelDir: string, file: string): Promise<{ shardPaths: string[]; shardSizes: number[]; expected: number }> {
  const where = `weightsManifest[${groupIndex}]`;
  const shardPaths: string[] = [];
  for (const listed of group.paths) shardPaths.push(await resolveShardPath(listed, modelDir, file, where));

  const shardSizes: number[] = [];
  for (const [i, shardPath] of shardPaths.entries()) {
    const info = await stat(shardPath).catch((error: unknown) => {
      throw new FileProblem(file, `cannot read shard file '${group.paths[i]}' (${describeFsError(error)})`);
    });
    if (!info.isFile()) throw new FileProblem(file, `shard '${group.paths[i]}' listed in ${where} is not a file`);
    shardSizes.push(info.size);
  }

  const expected = group.weights.reduce((total, w) => total + sizeOf(w.shape) * storedBytesPerValue(w), 0);
  const found = shardSizes.reduce((a, b) => a + b, 0);
  if (found !== expected) {
    const names = group.paths.map((p) => `'${p}'`).join(', ') || 'no files';
    throw new FileProblem(
      file,
      `${where}: its ${group.weights.length} weights need ${expected} bytes but its shards (${names}) hold ${found} bytes` +
        (found < expected ? ' (truncated?)' : ' (extra bytes)'),
    );
  }
  return { shardPaths, shardSizes, expected };
}

/** All bytes of one manifest group: its shards concatenated, checked against what its weights need. */
export async function readGroupBytes(group: TfjsWeightsGroup, groupIndex: number, modelDir: string, file: string): Promise<Uint8Array> {
  const { shardPaths, shardSizes, expected } = await checkGroupShards(group, groupIndex, modelDir, file);
  // A fresh array, so its buffer starts at offset 0 and is not shared with Node's Buffer pool.
  const bytes = new Uint8Array(expected);
  let offset = 0;
  for (const [i, shardPath] of shardPaths.entries()) {
    const data = await readJobFile(shardPath, { role: `shard file '${group.paths[i]}'` }).catch((error: unknown) => {
      if (error instanceof FileProblem) throw error;
      throw new FileProblem(file, `cannot read shard file '${group.paths[i]}' (${describeFsError(error)})`);
    });
    if (data.byteLength !== shardSizes[i]) throw new FileProblem(file, `shard file '${group.paths[i]}' changed while it was being read`);
    bytes.set(data, offset);
    offset += data.byteLength;
  }
  return bytes;
}
