/**
 * The hostile-input suite: every case of corpus.ts is built in its own folder, run, and checked for
 * its specific message and exit status, for unchanged inputs (SHA-256 of every file in its folder
 * before and after, outputs it may write aside), for no temporary file left behind, and for ending
 * within its time limit. Needs the build (npm test runs it first) for the child-process and
 * analyzer cases.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, fork, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { main } from '../../src/cli/main';
import { caseFolders } from '../fixtures/tempDirs';
import { hostileCases, type Outcome, type Runners } from './corpus';

const root = resolve(__dirname, '..', '..');
const cliScript = join(root, 'dist', 'cli.js');
const analyzerScript = join(root, 'dist', 'analyzer.js');
const fixtures = join(root, 'test', 'fixtures');
const { freshDir } = caseFolders('hostile');

/** Runs the CLI's `main` here, collecting what it writes (a run cut off by its time limit keeps its own collectors). */
async function cliInProcess(argv: string[]): Promise<Outcome> {
  const out: string[] = [];
  const err: string[] = [];
  const collector = (into: string[]) => ({ write: ((chunk: string | Uint8Array) => (into.push(String(chunk)), true)) as NodeJS.WriteStream['write'] });
  const code = await main(argv, { stdout: collector(out), stderr: { ...collector(err), isTTY: false, columns: 80 } });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

function cliProcess(argv: string[], options: { signalAfterMs?: number } = {}): Promise<Outcome> {
  return new Promise((done) => {
    let signalledAt: number | undefined;
    const child = execFile(process.execPath, [cliScript, ...argv], { timeout: 30_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      const afterSignal = signalledAt === undefined ? 0 : Date.now() - signalledAt;
      // Ending more than a second after SIGTERM fails the case whatever the exit status.
      done(afterSignal > 1000 ? { code: 99, stdout, stderr: `${stderr}\nended ${afterSignal} ms after SIGTERM` } : { code, stdout, stderr });
    });
    if (options.signalAfterMs !== undefined) {
      // Counted from the first progress line, so the signal lands in the work, not in start-up.
      child.stderr?.once('data', () => {
        setTimeout(() => {
          signalledAt = Date.now();
          child.kill('SIGTERM');
        }, options.signalAfterMs);
      });
    }
  });
}

/** One analyzer process for all message cases, as the extension keeps one. */
let analyzer: { child: ChildProcess; stderr: string[] } | undefined;

function analyzerProcess(): { child: ChildProcess; stderr: string[] } {
  if (analyzer && analyzer.child.connected) return analyzer;
  const child = fork(analyzerScript, [], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  const stderr: string[] = [];
  child.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
  analyzer = { child, stderr };
  return analyzer;
}

after(() => analyzer?.child.kill());

interface Answer {
  type: string;
  id?: number;
  kind?: string;
  message?: string;
  result?: { kind: string };
}

function nextAnswer(child: ChildProcess, id: number | undefined, stderr: string[], waitMs: number): Promise<Answer | undefined> {
  return new Promise((done) => {
    const seen = stderr.length;
    const onMessage = (message: Answer) => {
      if (message.id !== id || (message.type !== 'failed' && message.type !== 'result')) return;
      finish(message);
    };
    const poll = setInterval(() => {
      if (id === undefined && stderr.length > seen) finish({ type: 'stderr', message: stderr.slice(seen).join('') });
    }, 20);
    const timer = setTimeout(() => finish(undefined), waitMs);
    const finish = (answer: Answer | undefined) => {
      clearInterval(poll);
      clearTimeout(timer);
      child.off('message', onMessage);
      done(answer);
    };
    child.on('message', onMessage);
  });
}

function outcomeOf(answer: Answer | undefined): Outcome {
  if (answer === undefined) return { code: 124, stdout: '', stderr: 'no answer from the analyzer' };
  if (answer.type === 'result') return { code: 0, stdout: answer.result?.kind ?? '', stderr: '' };
  return { code: 1, stdout: '', stderr: `${answer.kind ?? ''}: ${answer.message ?? ''}` };
}

const runners: Runners = {
  cli: cliInProcess,
  cliProcess,
  async analyzer(message) {
    const { child, stderr } = analyzerProcess();
    const id = typeof (message as { id?: unknown }).id === 'number' && Number.isInteger((message as { id: number }).id) ? (message as { id: number }).id : undefined;
    const answer = nextAnswer(child, id, stderr, 25_000);
    child.send(message as object);
    return outcomeOf(await answer);
  },
  async analyzerCancel(message, cancelAfterMs) {
    const { child, stderr } = analyzerProcess();
    const id = (message as { id: number }).id;
    const answer = nextAnswer(child, id, stderr, 35_000);
    // Counted from the job's first progress report, so Cancel lands in the work itself.
    const working = new Promise<void>((started) => {
      const onProgress = (m: Answer) => {
        if (m.type === 'progress' && m.id === id) {
          child.off('message', onProgress);
          started();
        }
      };
      child.on('message', onProgress);
    });
    child.send(message as object);
    await working;
    await new Promise((r) => setTimeout(r, cancelAfterMs));
    const cancelledAt = Date.now();
    child.send({ type: 'cancel', id });
    const outcome = outcomeOf(await answer);
    return { ...outcome, answeredMs: Date.now() - cancelledAt };
  },
};

function filesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...filesUnder(path));
    else found.push(path);
  }
  return found;
}

function hashes(dir: string): Map<string, string> {
  const result = new Map<string, string>();
  for (const file of filesUnder(dir)) {
    const info = lstatSync(file);
    result.set(file, info.isFile() ? createHash('sha256').update(readFileSync(file)).digest('hex') : `not a file, mode ${info.mode}`);
  }
  return result;
}

const TEMPORARY = /\.tmp$|^\.flatness-/;

test('the corpus has at least 60 cases, each with its own name', () => {
  assert.ok(hostileCases.length >= 60, `${hostileCases.length} cases`);
  assert.equal(new Set(hostileCases.map((c) => c.name)).size, hostileCases.length);
});

for (const hostile of hostileCases) {
  test(hostile.name, async () => {
    const dir = await freshDir();
    const run = await hostile.build(dir, fixtures);
    const before = hashes(dir);
    // Generous for a loaded machine: a hang is what this catches, and it would run for ever.
    const limit = run.timeLimitMs ?? 60_000;
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      run.run(runners),
      new Promise<Outcome>((done) => (timer = setTimeout(() => done({ code: 124, stdout: '', stderr: `still running after ${limit} ms` }), limit))),
    ]).finally(() => clearTimeout(timer));
    const elapsed = Date.now() - started;
    const said = `${outcome.stderr}\n${outcome.stdout}`;
    assert.match(said, run.says, `exit ${outcome.code}, said:\n${said.slice(0, 2000)}`);
    assert.equal(outcome.code, run.code, `exit status; said:\n${said.slice(0, 2000)}`);
    assert.ok(elapsed <= limit, `took ${elapsed} ms, limit ${limit} ms`);
    assert.ok(!outcome.stderr.includes('\u001b'), 'a raw escape character reached the terminal');

    const outputs = new Set((run.outputs ?? []).map((o) => resolve(o)));
    const afterRun = hashes(dir);
    for (const [file, hash] of before) {
      if (outputs.has(file)) continue;
      assert.equal(afterRun.get(file), hash, `${file} changed or disappeared`);
    }
    const leftovers = [...afterRun.keys()].filter((file) => TEMPORARY.test(file.slice(dir.length + 1).split('/').pop() ?? '') || file.slice(dir.length + 1).split('/').some((part) => part.startsWith('.flatness-')));
    assert.deepEqual(leftovers, [], 'temporary files left behind');
    run.after?.();
  });
}
