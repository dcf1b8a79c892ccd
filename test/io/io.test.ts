import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { FileProblem } from '../../src/protocol/errors';
import { formatLimitValue, limitLines, limits } from '../../src/protocol/limits';
import { escapeControlCharacters } from '../../src/protocol/safeText';
import { enoughLines, gunzipBounded } from '../../src/engine/io/boundedGzip';
import { jsonNestingDepth, parseBoundedJson } from '../../src/engine/io/boundedJson';
import { checkOutputs } from '../../src/engine/io/outputGuard';
import { readRegularFile } from '../../src/engine/io/regularFile';
import { replaceFilesAtomically } from '../../src/engine/io/atomicWrite';
import { joinNegativeValues } from '../../src/cli/main';
import { caseFolders } from '../fixtures/tempDirs';

const { freshDir } = caseFolders('io');

const problem = (pattern: RegExp) => (error: unknown) => error instanceof FileProblem && pattern.test(error.message);

test('gunzip stops at the size limit instead of filling memory', async () => {
  const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024));
  assert.ok(bomb.length < 20_000);
  await assert.rejects(gunzipBounded('bomb.gz', bomb, { maxBytes: 1024 * 1024 }), problem(/bomb\.gz: gzip data decompresses to more than 1 MiB/));
  const whole = await gunzipBounded('bomb.gz', bomb);
  assert.equal(whole.bytes.length, 8 * 1024 * 1024);
  assert.equal(whole.complete, true);
});

test('gunzip stops as soon as the caller has enough lines', async () => {
  const text = Array.from({ length: 200_000 }, (_, i) => `${i},${i % 3}`).join('\n');
  const result = await gunzipBounded('rows.csv.gz', gzipSync(Buffer.from(text)), { enough: enoughLines(11) });
  assert.equal(result.complete, false);
  assert.ok(result.bytes.length < text.length / 4, `${result.bytes.length} of ${text.length} bytes inflated`);
  assert.ok(new TextDecoder().decode(result.bytes).startsWith('0,0\n1,1\n2,2\n'));
});

test('JSON nesting is measured without recursion and outside strings', () => {
  assert.equal(jsonNestingDepth('{"a": [1, {"b": "[[[[["}]}'), 3);
  assert.equal(jsonNestingDepth('"\\"[["'), 0);
  assert.equal(jsonNestingDepth('['.repeat(1_000_000)), 1_000_000);
  assert.throws(() => parseBoundedJson('deep.json', '['.repeat(101) + ']'.repeat(101)), problem(/deep\.json: nests lists and objects 101 levels deep, more than the 100-level limit/));
  assert.deepEqual(parseBoundedJson('ok.json', '[[1]]'), [[1]]);
});

test('only regular files are read: FIFOs and folders are refused at once, by name', async () => {
  const dir = await freshDir();
  const fifo = join(dir, 'pipe');
  execFileSync('mkfifo', [fifo]);
  await assert.rejects(readRegularFile(fifo, { role: 'the data file' }), problem(/pipe: the data file is a FIFO \(named pipe\), not a regular file/));
  await assert.rejects(readRegularFile(dir), problem(/is a folder, not a regular file/));
  const big = join(dir, 'big.bin');
  writeFileSync(big, Buffer.alloc(2048));
  await assert.rejects(readRegularFile(big, { maxBytes: 1024 }), problem(/holds 2048 bytes, more than the 1024 limit/));
  assert.equal((await readRegularFile(big)).length, 2048);
});

test('outputs: inputs are refused by path, symlink and hard link, even with force', async () => {
  const dir = await freshDir();
  const input = join(dir, 'model.json');
  writeFileSync(input, '{}');
  symlinkSync(input, join(dir, 'link.json'));
  linkSync(input, join(dir, 'hard.json'));
  mkdirSync(join(dir, 'sub'));
  const inputs = [input];
  assert.throws(() => checkOutputs([input], { inputs, force: true }), problem(/model\.json: is an input of this job/));
  assert.throws(() => checkOutputs([join(dir, 'sub', '..', 'model.json')], { inputs, force: true }), problem(/is an input of this job|is the same file as the input/));
  assert.throws(() => checkOutputs([join(dir, 'link.json')], { inputs, force: true }), problem(/link\.json: is the same file as the input .*model\.json/));
  assert.throws(() => checkOutputs([join(dir, 'hard.json')], { inputs, force: true }), problem(/hard\.json: is the same file as the input .*model\.json/));
  assert.throws(() => checkOutputs([join(dir, 'a.out'), join(dir, 'sub', '..', 'a.out')], { inputs }), problem(/a\.out: is also the output/));
  assert.throws(() => checkOutputs([join(dir, 'sub')], { inputs, force: true }), problem(/sub: exists and is not a regular file/));
  const other = join(dir, 'other.json');
  writeFileSync(other, 'x');
  assert.throws(() => checkOutputs([other], { inputs, howToForce: 'confirm' }), problem(/other\.json: already exists; confirm to replace it/));
  checkOutputs([other, join(dir, 'new.json')], { inputs, force: true });
});

test('atomic replace: the old file or the new one, and no temporary file after a failure', async () => {
  const dir = await freshDir();
  const target = join(dir, 'report.json');
  writeFileSync(target, 'old');
  await replaceFilesAtomically([{ path: target, data: 'new' }]);
  assert.equal(readFileSync(target, 'utf8'), 'new');
  // Renaming a file over a folder fails after the temporary file was written: it must go.
  const folder = join(dir, 'taken');
  mkdirSync(folder);
  await assert.rejects(replaceFilesAtomically([{ path: join(dir, 'ok.json'), data: 'a' }, { path: folder, data: 'b' }]), problem(/taken: cannot write it \(E/));
  assert.deepEqual(readdirSync(dir).filter((name) => name.endsWith('.tmp')), []);
});

test('control characters are shown escaped, line breaks kept only in messages', () => {
  assert.equal(escapeControlCharacters('a\u001b[31mb\u0007\u009bc\u202ed'), 'a\\x1b[31mb\\x07\\x9bc\\u202ed');
  assert.equal(escapeControlCharacters('line 1\nline 2\ttab'), 'line 1\nline 2\ttab');
  assert.equal(escapeControlCharacters('name\nforged', false), 'name\\x0aforged');
  assert.equal(escapeControlCharacters('Δ über 😀'), 'Δ über 😀');
});

test('negative numbers are taken as option values', () => {
  const strings = new Set(['alpha', 'samples', 'data']);
  assert.deepEqual(joinNegativeValues(['--alpha', '-1,2', '--samples', '-1', '--data', '-x', '--quiet'], strings), ['--alpha=-1,2', '--samples=-1', '--data', '-x', '--quiet']);
  assert.deepEqual(joinNegativeValues(['--seed', '-inf', '--samples', '-.5'], new Set(['seed', 'samples'])), ['--seed=-inf', '--samples=-.5']);
});

test('the limits table lists each limit once, with its value, in --help and in the README', () => {
  const lines = limitLines();
  assert.equal(lines.length, Object.keys(limits).length);
  assert.ok(lines.some((line) => /4 GiB\s+bytes a gzip stream or zip entry may inflate to/.test(line)));
  assert.ok(lines.some((line) => /16777216\s+units or channels a layer may declare/.test(line)), 'counts are not shown as sizes');
  const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Safety and limits'), readme.indexOf('## What is measured'));
  for (const limit of Object.values(limits)) {
    const shown = formatLimitValue(limit.value, limit.bytes === true);
    assert.ok(section.includes(`| ${shown}`), `README "Safety and limits" lacks ${shown} (${limit.what})`);
  }
});
