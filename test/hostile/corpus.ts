/**
 * The hostile-input corpus: broken and malicious checkpoints, data files, option values and
 * analyzer messages, built at test time into a fresh folder per case. Each case says how to run it
 * (the CLI in this process, the built CLI as a child process where a hang or a signal is the point,
 * a reader call, or a message to the built analyzer process) and what it must answer.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, linkSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync, gzipSync } from 'node:zlib';
import { editModelJson, mlpModel, writeLayersModel, type JsonObject, type WrittenLayersModel } from '../fixtures/tfjsLayersFixture';
import { idxBytes, npyBytes } from '../data/fixtures';
import { PYTHON } from '../fixtures/python';
import { crc, zip64Stored } from './zip64';

export interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** How a case runs; the runner (hostile.test.ts) supplies these. */
export interface Runners {
  /** `flatness <argv>` in this process (fast: no new process, tfjs loaded once). */
  cli(argv: string[]): Promise<Outcome>;
  /** `node dist/cli.js <argv>` as a child process; `signalAfterMs` sends SIGTERM that long after its first progress line. */
  cliProcess(argv: string[], options?: { signalAfterMs?: number }): Promise<Outcome>;
  /** A message to the built analyzer process: stderr holds the failure message, stdout the result kind. */
  analyzer(message: unknown): Promise<Outcome>;
  /** Sends `message`, then cancels it `cancelAfterMs` after its first progress report; `stderr` holds the answer. */
  analyzerCancel(message: unknown, cancelAfterMs: number): Promise<Outcome & { answeredMs: number }>;
}

export interface HostileCase {
  readonly name: string;
  /** Builds the case's files in `dir` and returns how to run it and what to expect. */
  build(dir: string, fixtures: string): Promise<CaseRun>;
}

export interface CaseRun {
  run(runners: Runners): Promise<Outcome>;
  /** Exit status expected (2 usage, 1 refused input, 0 success, 130 cancelled). */
  readonly code: number;
  /** What stderr (or, for successes, stdout) must say. */
  readonly says: RegExp;
  /** Files the run may create or replace; every other file in the case folder must keep its bytes. */
  readonly outputs?: readonly string[];
  readonly timeLimitMs?: number;
  /** Checks after the run, e.g. that an output was replaced. */
  readonly after?: () => void;
}

const quiet = ['--quiet'];
const fast = ['--metrics', 'loss', '--quiet'];

async function tinyModel(dir: string): Promise<WrittenLayersModel> {
  return writeLayersModel(dir, mlpModel([4, 6, 3], 5));
}

function csvRows(count: number, label: (i: number) => string | number = (i) => i % 3): string {
  return Array.from({ length: count }, (_, i) => [i % 5, (i * 7) % 3, 0.5 * i, 1 - i / 10, label(i)].join(',')).join('\n') + '\n';
}

function write(dir: string, name: string, data: Uint8Array | string): string {
  const file = join(dir, name);
  writeFileSync(file, data);
  return file;
}

function mkfifo(file: string): string {
  execFileSync('mkfifo', [file]);
  return file;
}

/** Replaces the first float32 of `values` found in `bytes` by `bad`. */
function poisonFloat(bytes: Uint8Array, firstValues: Float32Array, bad: number): Uint8Array {
  const pattern = new Uint8Array(firstValues.buffer, firstValues.byteOffset, 16);
  const out = Uint8Array.from(bytes);
  for (let at = 0; at + 16 <= out.length; at++) {
    if (pattern.every((b, i) => out[at + i] === b)) {
      new DataView(out.buffer).setFloat32(at, bad, true);
      return out;
    }
  }
  throw new Error('fixture values not found');
}

/** A stored zip (no ZIP64), for crafted entries. */
function zipStored(entries: readonly { name: string; data: Uint8Array; declaredSize?: number; method?: number }[]): Uint8Array {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const method = entry.method ?? 0;
    const data = method === 8 ? deflateRawSync(entry.data) : Buffer.from(entry.data);
    const size = entry.declaredSize ?? entry.data.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc(entry.data), 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    parts.push(local, name, data);
    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE(20, 4);
    header.writeUInt16LE(20, 6);
    header.writeUInt16LE(method, 10);
    header.writeUInt32LE(crc(entry.data), 16);
    header.writeUInt32LE(data.length, 20);
    header.writeUInt32LE(size, 24);
    header.writeUInt16LE(name.length, 28);
    header.writeUInt32LE(offset, 42);
    central.push(header, name);
    offset += 30 + name.length + data.length;
  }
  const size = central.reduce((n, p) => n + p.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(size, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, ...central, end]);
}

/** Entries of a stored zip, read with Python's zipfile (independent of the reader under test). */
function zipEntries(file: string): { name: string; data: Uint8Array }[] {
  const script = 'import zipfile,sys,json,base64;z=zipfile.ZipFile(sys.argv[1]);print(json.dumps([[i.filename,base64.b64encode(z.read(i)).decode()] for i in z.infolist()]))';
  const listed = JSON.parse(execFileSync(PYTHON, ['-c', script, file], { encoding: 'utf8' })) as [string, string][];
  return listed.map(([name, data]) => ({ name, data: Buffer.from(data, 'base64') }));
}

const cli = (argv: string[], code: number, says: RegExp, extra: Partial<CaseRun> = {}): CaseRun => ({ run: (r) => r.cli(argv), code, says, ...extra });

/** A tiny TF.js model plus a CSV data set, then the case's own change. */
function modelCase(name: string, make: (dir: string, model: WrittenLayersModel, data: string) => Promise<CaseRun> | CaseRun): HostileCase {
  return {
    name,
    async build(dir) {
      const model = await tinyModel(dir);
      const data = write(dir, 'data.csv', csvRows(12));
      return make(dir, model, data);
    },
  };
}

function weightsFixture(format: 'safetensors' | 'pt' | 'npz' | 'onnx', make: (dir: string, file: string, architecture: string) => Promise<CaseRun> | CaseRun, name: string): HostileCase {
  return {
    name,
    async build(dir, fixtures) {
      const file = join(dir, `mlp.${format}`);
      copyFileSync(join(fixtures, 'weights', `mlp.${format}`), file);
      const architecture = join(dir, 'mlp.architecture.json');
      copyFileSync(join(fixtures, 'weights', 'mlp.architecture.json'), architecture);
      return make(dir, file, architecture);
    },
  };
}

/** The first four values of the fixture's first tensor (0.weight), as PyTorch stored them. */
function firstWeightValues(fixtures: string): Float32Array {
  const bytes = readFileSync(join(fixtures, 'weights', 'mlp.safetensors'));
  const headerLength = Number(bytes.readBigUInt64LE(0));
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset + 8 + headerLength, bytes.byteOffset + 8 + headerLength + 16));
}

function poisonedWeights(format: 'safetensors' | 'onnx'): HostileCase {
  return {
    name: `${format}: a NaN weight is refused naming the tensor and index`,
    async build(dir, fixtures) {
      const file = write(dir, `mlp.${format}`, poisonFloat(readFileSync(join(fixtures, 'weights', `mlp.${format}`)), firstWeightValues(fixtures), NaN));
      const architecture = join(dir, 'mlp.architecture.json');
      copyFileSync(join(fixtures, 'weights', 'mlp.architecture.json'), architecture);
      const args = format === 'onnx' ? [file] : [file, '--architecture', architecture];
      return cli(['analyze', ...args, ...fast], 1, /weight '[^']*weight' has NaN at index 0 .*--allow-non-finite/);
    },
  };
}

function poisonedZip(format: 'pt' | 'npz', bad: number, what: RegExp): HostileCase {
  return {
    name: `${format}: ${Number.isNaN(bad) ? 'a NaN' : 'an infinite'} weight is refused naming the tensor and index`,
    async build(dir, fixtures) {
      const entries = zipEntries(join(fixtures, 'weights', `mlp.${format}`));
      const values = firstWeightValues(fixtures);
      const poisoned = entries.map((e) => {
        try {
          return { name: e.name, data: poisonFloat(e.data, values, bad) };
        } catch {
          return e;
        }
      });
      const file = write(dir, `mlp.${format}`, zipStored(poisoned));
      copyFileSync(join(fixtures, 'weights', 'mlp.architecture.json'), join(dir, 'mlp.architecture.json'));
      return cli(['analyze', file, ...fast], 1, what);
    },
  };
}

function zip64Checkpoint(format: 'pt' | 'npz'): HostileCase {
  return {
    name: `${format}: a ZIP64 archive is read like the plain one`,
    async build(dir, fixtures) {
      const file = write(dir, `mlp.${format}`, zip64Stored(zipEntries(join(fixtures, 'weights', `mlp.${format}`))));
      copyFileSync(join(fixtures, 'weights', 'mlp.architecture.json'), join(dir, 'mlp.architecture.json'));
      return cli(['analyze', file, ...fast], 0, /loss/);
    },
  };
}

const INPUTS = npyBytes('<f4', [6, 4], Array.from({ length: 24 }, (_, i) => i / 10));
const LABELS = npyBytes('<i8', [6], [0, 1, 2, 0, 1, 2]);

function dataCase(name: string, files: (dir: string) => string, code: number, says: RegExp, extra: string[] = []): HostileCase {
  return modelCase(name, (dir, model) => cli(['analyze', model.path, '--data', files(dir), ...fast, ...extra], code, says));
}

function deepJson(depth: number): string {
  return '{"x": ' + '['.repeat(depth) + '1' + ']'.repeat(depth) + ', "y": [0]}';
}

function optionCase(name: string, options: string[], says: RegExp, command = 'analyze'): HostileCase {
  return modelCase(`option: ${name}`, (dir, model, data) => cli([command, model.path, '--data', data, ...quiet, ...options], 2, says));
}

function message(name: string, body: (dir: string, model: string) => unknown, says: RegExp, code = 1): HostileCase {
  return {
    name: `analyzer: ${name}`,
    async build(dir) {
      const model = await tinyModel(dir);
      return { run: (r) => r.analyzer(body(dir, model.path)), code, says, timeLimitMs: 30_000 };
    },
  };
}

const analyzeRequest = (checkpoint: string, more: JsonObject = {}) => ({ checkpoint, metrics: ['loss'], ...more });

export const hostileCases: readonly HostileCase[] = [
  // ---- TF.js Layers checkpoints ----------------------------------------------------------------
  modelCase('tfjs: model.json that is not JSON', (dir, model) => (write(dir, 'model.json', '{"modelTopology": '), cli(['analyze', model.path, ...fast], 1, /model\.json: is not valid JSON/))),
  modelCase('tfjs: model.json nested 5000 levels deep', (dir, model) => (write(dir, 'model.json', '{"format": "layers-model", "modelTopology": ' + '['.repeat(5000) + ']'.repeat(5000) + ', "weightsManifest": []}'), cli(['analyze', model.path, ...fast], 1, /levels deep/))),
  modelCase('tfjs: 20,000 shard paths', async (dir, model) => {
    await editModelJson(model.path, (json) => void ((json.weightsManifest as JsonObject[])[0].paths = Array.from({ length: 20_000 }, (_, i) => `s${i}.bin`)));
    return cli(['analyze', model.path, ...fast], 1, /20000 shard files, more than the limit of 10000/);
  }),
  modelCase('tfjs: a shard path leaving the folder', async (dir, model) => {
    await editModelJson(model.path, (json) => void ((json.weightsManifest as JsonObject[])[0].paths = ['../../etc/passwd']));
    return cli(['analyze', model.path, ...fast], 1, /contains '\.\.'; shard files must be plain relative paths inside the model's folder/);
  }),
  modelCase('tfjs: a NaN weight', async (dir, model) => {
    const shard = model.shardPaths[0];
    const bytes = readFileSync(shard);
    bytes.writeFloatLE(NaN, 8);
    writeFileSync(shard, bytes);
    return cli(['analyze', model.path, ...fast], 1, /weight 'dense_1\/kernel' has NaN at index 2 \(shape \[4, 6\]\)/);
  }),
  modelCase('tfjs: a NaN weight with --allow-non-finite is analyzed', async (dir, model, data) => {
    const shard = model.shardPaths[0];
    const bytes = readFileSync(shard);
    bytes.writeFloatLE(Infinity, 8);
    writeFileSync(shard, bytes);
    return cli(['analyze', model.path, '--data', data, '--allow-non-finite', ...fast], 0, /loss/);
  }),
  modelCase('tfjs: a Dense layer declaring 2^53 units', async (dir, model) => {
    await editModelJson(model.path, (json) => void (((json.modelTopology as JsonObject).config as { layers: { config: JsonObject }[] }).layers[0].config.units = 2 ** 53));
    return cli(['analyze', model.path, ...fast], 1, /layer 'dense_1' declares units = 9007199254740992; expected a positive integer up to 16777216/);
  }),
  modelCase('tfjs: units that disagree with the kernel', async (dir, model) => {
    await editModelJson(model.path, (json) => void (((json.modelTopology as JsonObject).config as { layers: { config: JsonObject }[] }).layers[0].config.units = 7));
    return cli(['analyze', model.path, ...fast], 1, /declares units = 7, but its kernel 'dense_1\/kernel' has shape \[4, 6\]/);
  }),
  modelCase('tfjs: a truncated shard', (dir, model) => {
    writeFileSync(model.shardPaths[0], readFileSync(model.shardPaths[0]).subarray(0, 10));
    return cli(['analyze', model.path, ...fast], 1, /hold 10 bytes/);
  }),
  {
    name: 'tfjs: a shard that is a FIFO is refused at once',
    async build(dir) {
      const model = await tinyModel(dir);
      const shard = model.shardPaths[0];
      execFileSync('rm', [shard]);
      mkfifo(shard);
      return { run: (r) => r.cliProcess(['analyze', model.path, ...fast]), code: 1, says: /shard 'group1-shard1of1\.bin' listed in weightsManifest\[0\] is not a file/, timeLimitMs: 30_000 };
    },
  },
  {
    name: 'checkpoint: a FIFO is refused at once',
    async build(dir) {
      const fifo = mkfifo(join(dir, 'model.json'));
      return { run: (r) => r.cliProcess(['analyze', fifo, ...fast]), code: 1, says: /is a FIFO \(named pipe\), not a regular file/, timeLimitMs: 30_000 };
    },
  },
  { name: 'checkpoint: a folder', build: async (dir) => cli(['analyze', dir, ...fast], 1, /is a folder, not a regular file/) },
  { name: 'checkpoint: a character device (/dev/zero)', build: async () => cli(['analyze', '/dev/zero', ...fast], 1, /is a device, not a regular file/) },
  { name: 'checkpoint: an empty file', build: async (dir) => cli(['analyze', write(dir, 'empty.bin', ''), ...fast], 1, /not a checkpoint format/) },
  { name: 'checkpoint: a missing file', build: async (dir) => cli(['analyze', join(dir, 'absent.json'), ...fast], 1, /absent\.json: cannot open it \(ENOENT\): file not found/) },
  { name: 'checkpoint: random bytes named .onnx', build: async (dir) => cli(['analyze', write(dir, 'x.onnx', Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 97) % 256))), ...fast], 1, /x\.onnx: not a checkpoint format/) },

  // ---- weights-only formats ---------------------------------------------------------------------
  poisonedWeights('safetensors'),
  poisonedWeights('onnx'),
  poisonedZip('pt', NaN, /weight '0\.weight' has NaN at index 0 /),
  poisonedZip('npz', -Infinity, /weight '0\.weight' has an infinite value at index 0 /),
  zip64Checkpoint('pt'),
  zip64Checkpoint('npz'),
  weightsFixture('safetensors', (dir, file) => {
    const bytes = readFileSync(file);
    bytes.writeBigUInt64LE(2n ** 40n, 0);
    writeFileSync(file, bytes);
    return cli(['analyze', file, ...fast], 1, /mlp\.safetensors: not a checkpoint format/);
  }, 'safetensors: a header length of 2^40'),
  weightsFixture('safetensors', (dir, file) => {
    const header = Buffer.from('['.repeat(3000) + ']'.repeat(3000));
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(header.length));
    writeFileSync(file, Buffer.concat([length, header]));
    return cli(['analyze', file, ...fast], 1, /mlp\.safetensors: not a checkpoint format/);
  }, 'safetensors: a header nested 3000 levels'),
  weightsFixture('safetensors', (dir, file) => (writeFileSync(file, readFileSync(file).subarray(0, 500)), cli(['analyze', file, ...fast], 1, /data_offsets \[0, 8192\] beyond the \d+ bytes of data; the file is truncated/)), 'safetensors: truncated'),
  weightsFixture('onnx', (dir, file) => (writeFileSync(file, readFileSync(file).subarray(0, 200)), cli(['analyze', file, ...fast], 1, /mlp\.onnx: is not a valid ONNX model: .*truncated/)), 'onnx: truncated'),
  weightsFixture('pt', (dir, file) => (writeFileSync(file, readFileSync(file).subarray(0, 2000)), cli(['analyze', file, ...fast], 1, /mlp\.pt: PyTorch zip archive: no zip end-of-central-directory record/)), 'pt: truncated'),
  {
    name: 'pt: an entry declaring 3 GiB from a few bytes (zip bomb)',
    build: async (dir) => cli(['analyze', write(dir, 'bomb.pt', zipStored([{ name: 'bomb/data.pkl', data: new Uint8Array(1000), declaredSize: 3 * 1024 ** 3, method: 8 }])), ...fast], 1, /zip bomb/),
  },
  {
    name: "pt: an entry named '../evil'",
    build: async (dir) => cli(['analyze', write(dir, 'evil.pt', zipStored([{ name: 'evil/data.pkl', data: new Uint8Array(10) }, { name: 'evil/../../../x', data: new Uint8Array(10) }])), ...fast], 1, /has a '\.\.' component in its path/),
  },
  {
    name: 'pt: a pickle that calls os.system',
    build: async (dir) => {
      const pickle = Buffer.from('cos\nsystem\n(S\'echo pwned\'\ntR.', 'latin1');
      return cli(['analyze', write(dir, 'payload.pt', zipStored([{ name: 'payload/data.pkl', data: pickle }, { name: 'payload/version', data: Buffer.from('3\n') }])), ...fast], 1, /names the Python global 'os\.system', which Flatness Lens never executes/);
    },
  },
  weightsFixture('npz', (dir, file) => {
    const bytes = readFileSync(file);
    bytes[bytes.length - 200] ^= 0xff;
    writeFileSync(file, bytes);
    return cli(['analyze', file, ...fast], 1, /mlp\.npz: .*(different name in its local header|CRC-32|damaged)/);
  }, 'npz weights: a flipped byte in the directory'),
  { name: 'keras: random bytes named .h5', build: async (dir) => cli(['analyze', write(dir, 'm.h5', Buffer.alloc(4096, 7)), ...fast], 1, /m\.h5: not a checkpoint format/) },
  {
    name: 'keras: the committed NaN fixture',
    build: async (dir, fixtures) => {
      const file = join(dir, 'nan.h5');
      copyFileSync(join(fixtures, 'keras', 'nan.h5'), file);
      return cli(['analyze', file, ...fast], 1, /weight 'dense_1\/kernel[^']*' has NaN at index \d+/);
    },
  },
  {
    name: 'keras: a .keras archive whose config nests 500 levels',
    build: async (dir) => cli(['analyze', write(dir, 'deep.keras', zipStored([{ name: 'config.json', data: Buffer.from(deepJson(500)) }, { name: 'metadata.json', data: Buffer.from('{}') }, { name: 'model.weights.h5', data: new Uint8Array(8) }])), ...fast], 1, /levels deep/),
  },

  // ---- data loaders -------------------------------------------------------------------------------
  modelCase('data: a gzip stream of 64 MB is read only up to --samples rows', (dir, model) => {
    const big = gzipSync(Buffer.from(csvRows(12) + '0,0,0,0,0\n'.repeat(6_400_000)), { level: 1 });
    const file = write(dir, 'big.csv.gz', big);
    return cli(['analyze', model.path, '--data', file, '--samples', '10', '--metrics', 'loss', '--json', '-', '--quiet'], 0, /"samples": 10/, { timeLimitMs: 40_000 });
  }),
  modelCase('data: a NaN label names the row', (dir, model) => cli(['analyze', model.path, '--data', write(dir, 'd.csv', csvRows(12, (i) => (i === 4 ? 'nan' : i % 3))), ...fast], 1, /sample 4/)),
  modelCase('data: label -1 names the row', (dir, model) => cli(['analyze', model.path, '--data', write(dir, 'd.csv', csvRows(12, (i) => (i === 3 ? -1 : i % 3))), ...fast], 1, /sample 3 has label -1, but cross-entropy over the model's 3 outputs needs class indices/)),
  modelCase('data: label 2.5 names the row', (dir, model) => cli(['analyze', model.path, '--data', write(dir, 'd.csv', csvRows(12, (i) => (i === 7 ? 2.5 : i % 3))), ...fast], 1, /sample 7 has label 2\.5/)),
  modelCase('data: label 9 with 3 outputs names the row', (dir, model) => cli(['analyze', model.path, '--data', write(dir, 'd.csv', csvRows(12, (i) => (i === 5 ? 9 : i % 3))), ...fast], 1, /sample 5 has (class )?label 9/)),
  dataCase('data: a CSV field that is not a number', (dir) => write(dir, 'd.csv', '1,2,3,4,0\n1,x,3,4,1\n'), 1, /line 2, column 2: 'x' is not a number/),
  dataCase('data: JSON nested 100,000 levels', (dir) => write(dir, 'd.json', deepJson(100_000)), 1, /100001 levels deep, more than the 100-level limit/),
  dataCase('data: JSON that does not parse', (dir) => write(dir, 'd.json', '{"x": [1, 2'), 1, /not valid JSON/),
  dataCase('data: float32 bytes stored as int32', (dir) => {
    const floats = new Float32Array([0.5, 1.5, 2.5, 3.5, 0.25, 1.25, 2.25, 3.25, 0.5, 1.5, 2.5, 3.5, 0.25, 1.25, 2.25, 3.25, 0.5, 1.5, 2.5, 3.5, 0.25, 1.25, 2.25, 3.25]);
    write(dir, 'y.npy', LABELS);
    return write(dir, 'x.npy', npyBytes('<i4', [6, 4], [...new Int32Array(floats.buffer)]));
  }, 1, /stored as 32-bit integers .* looks like float32/),
  dataCase('data: an .npy header that lies about its shape', (dir) => {
    write(dir, 'y.npy', LABELS);
    return write(dir, 'x.npy', npyBytes('<f4', [6, 4], Array.from({ length: 24 }, () => 1)).subarray(0, 100));
  }, 1, /x\.npy: truncated: the header declares \d+ bytes but the file ends first/),
  dataCase("data: an .npz entry named '../x.npy'", (dir) => write(dir, 'd.npz', zipStored([{ name: '../x.npy', data: INPUTS }, { name: 'y.npy', data: LABELS }])), 1, /has a '\.\.' component in its path/),
  dataCase('data: a ZIP64 .npz loads', (dir) => write(dir, 'd.npz', zip64Stored([{ name: 'x.npy', data: INPUTS }, { name: 'y.npy', data: LABELS }])), 0, /loss/),
  dataCase('data: an .npz entry declaring 3 GiB (zip bomb)', (dir) => write(dir, 'd.npz', zipStored([{ name: 'x.npy', data: new Uint8Array(2000), declaredSize: 3 * 1024 ** 3, method: 8 }, { name: 'y.npy', data: LABELS }])), 1, /zip bomb/),
  dataCase('data: an IDX file declaring 2^31 images', (dir) => {
    const bytes = idxBytes(0x08, [1, 2, 2], [1, 2, 3, 4]);
    new DataView(bytes.buffer, bytes.byteOffset).setUint32(4, 2 ** 31, false);
    return write(dir, 'images-idx3-ubyte', bytes);
  }, 1, /images-idx3-ubyte: truncated: dimensions \[2147483648, 2, 2\] need 8589934592 bytes/),
  dataCase('data: a folder', (dir) => (mkdirSync(join(dir, 'data')), join(dir, 'data')), 1, /is a folder, not a regular file/),
  dataCase('data: gzip that is truncated', (dir) => write(dir, 'd.csv.gz', gzipSync(Buffer.from(csvRows(200))).subarray(0, 60)), 1, /gzip data is truncated/),
  {
    name: 'data: a FIFO is refused at once',
    async build(dir) {
      const model = await tinyModel(dir);
      return { run: (r) => r.cliProcess(['analyze', model.path, '--data', mkfifo(join(dir, 'data.csv')), ...fast]), code: 1, says: /data\.csv: the data file is a FIFO/, timeLimitMs: 30_000 };
    },
  },
  {
    name: 'data: a labels companion that is a FIFO is refused at once',
    async build(dir) {
      const model = await tinyModel(dir);
      write(dir, 'x.npy', INPUTS);
      mkfifo(join(dir, 'y.npy'));
      return { run: (r) => r.cliProcess(['analyze', model.path, '--data', join(dir, 'x.npy'), ...fast]), code: 1, says: /y\.npy: the labels file is a FIFO/, timeLimitMs: 30_000 };
    },
  },

  // ---- option values -----------------------------------------------------------------------------
  optionCase('--alpha -1,2', ['--alpha', '-1,2'], /--alpha takes positive numbers separated by commas, got '-1,2'/, 'rescale'),
  optionCase('--samples -1', ['--samples', '-1'], /--samples must be a positive integer \(≥ 1\), got '-1'/),
  optionCase('--probe-samples 1e9', ['--probe-samples', '1e9'], /--probe-samples 1e9 is over the limit of 100000/),
  optionCase('--top-k 1e6', ['--top-k', '1000000'], /--top-k 1000000 is over the limit of 1000/),
  optionCase('--input-shape 100000,100000', ['--input-shape', '100000,100000'], /over the limit of 16777216/),
  optionCase('--seed -5', ['--seed', '-5'], /--seed must be an integer from 0 to 4294967295, got '-5'/),
  optionCase('--epsilon nan', ['--epsilon', 'nan'], /--epsilon must be a positive number, got 'nan'/),
  optionCase('--trace-samples 2.5', ['--trace-samples', '2.5'], /--trace-samples must be a positive integer \(≥ 1\), got '2\.5'/),
  optionCase('--batch-size empty', ['--batch-size', ''], /--batch-size must be a positive integer/),
  optionCase('--sharpen -3', ['--sharpen', '-3'], /--sharpen must be a positive number, got '-3'/, 'rescale'),
  modelCase('option: --top-k above the number of parameters', (dir, model, data) => cli(['analyze', model.path, '--data', data, '--metrics', 'eigenvalues', '--top-k', '500', '--quiet'], 1, /top-k: 500 eigenvalues asked for, but the network has 51 parameters/)),

  // ---- outputs never replace inputs ------------------------------------------------------------
  modelCase('output: --json at the checkpoint', (dir, model, data) => cli(['analyze', model.path, '--data', data, ...fast, '--json', model.path], 2, /model\.json: is an input of this job; Flatness Lens never writes over its inputs/)),
  modelCase('output: --json at a weight shard', (dir, model, data) => cli(['analyze', model.path, '--data', data, ...fast, '--json', model.shardPaths[0], '--force'], 2, /shard1of1\.bin: is an input of this job/)),
  modelCase('output: --json at the data file', (dir, model, data) => cli(['analyze', model.path, '--data', data, ...fast, '--json', data, '--force'], 2, /data\.csv: is an input of this job/)),
  modelCase('output: --json at a symbolic link to the checkpoint', (dir, model, data) => {
    symlinkSync(model.path, join(dir, 'link.json'));
    return cli(['analyze', model.path, '--data', data, ...fast, '--json', join(dir, 'link.json'), '--force'], 2, /link\.json: is the same file as the input .*model\.json/);
  }),
  modelCase('output: --json at a hard link to the data', (dir, model, data) => {
    linkSync(data, join(dir, 'copy.csv'));
    return cli(['analyze', model.path, '--data', data, ...fast, '--json', join(dir, 'copy.csv'), '--force'], 2, /copy\.csv: is the same file as the input .*data\.csv/);
  }),
  modelCase('output: --json at an existing file without --force', (dir, model, data) => {
    const existing = write(dir, 'old.json', 'keep me');
    return cli(['analyze', model.path, '--data', data, ...fast, '--json', existing], 2, /old\.json: already exists; pass --force to replace it/);
  }),
  modelCase('output: --json at an existing file with --force replaces it', (dir, model, data) => {
    const existing = write(dir, 'old.json', 'replace me');
    return cli(['analyze', model.path, '--data', data, ...fast, '--json', existing, '--force'], 0, /Report written to/, {
      outputs: [existing],
      after: () => {
        if (!readFileSync(existing, 'utf8').includes('"schemaVersion"')) throw new Error('old.json was not replaced by the report');
      },
    });
  }),
  modelCase('output: --html and --json name one file', (dir, model, data) => cli(['analyze', model.path, '--data', data, ...fast, '--json', join(dir, 'r.out'), '--html', join(dir, 'r.out')], 2, /r\.out: is also the output/)),
  modelCase('output: rescale --out at the checkpoint', (dir, model, data) => cli(['rescale', model.path, '--data', data, '--flatten', '--quiet', '--out', model.path], 2, /model\.json: is an input of this job/)),
  modelCase('output: rescale --out at an existing file', (dir, model, data) => {
    const existing = write(dir, 'taken.json', '{}');
    return cli(['rescale', model.path, '--data', data, '--alpha', '2,0.5', '--quiet', '--out', existing], 2, /taken\.json: already exists; pass --force/);
  }),
  modelCase('output: rescale --out at an existing file with --force replaces it', (dir, model, data) => {
    const existing = write(dir, 'taken.json', '{}');
    return cli(['rescale', model.path, '--data', data, '--alpha', '2,0.5', '--quiet', '--out', existing, '--force'], 0, /Rescaled model\.json → .*taken\.json/, {
      outputs: [existing],
      after: () => {
        if (!readFileSync(existing, 'utf8').includes('modelTopology')) throw new Error('taken.json was not replaced by the rescaled model');
      },
    });
  }),
  modelCase('output: rescale --json at a shard', (dir, model, data) => cli(['rescale', model.path, '--data', data, '--alpha', '2,0.5', '--quiet', '--json', model.shardPaths[0], '--force'], 2, /shard1of1\.bin: is an input of this job/)),

  // ---- terminal safety -----------------------------------------------------------------------------
  { name: 'names: ANSI escapes in a file name are shown escaped', build: async (dir) => cli(['analyze', join(dir, '\u001b[2J\u001b[31mred.json'), ...fast], 1, /\\x1b\[2J\\x1b\[31mred\.json: cannot open it/) },
  { name: 'names: ANSI escapes in a command are shown escaped', build: async () => cli(['\u001b]0;owned\u0007'], 2, /unknown command '\\x1b\]0;owned\\x07'/) },

  // ---- signals -------------------------------------------------------------------------------------
  modelCase('signal: SIGTERM ends a long analysis within a second', (dir, model, data) => ({
    run: (r) => r.cliProcess(['analyze', model.path, '--data', data, '--metrics', 'trace,volume', '--trace-samples', '100000', '--directions', '100000'], { signalAfterMs: 500 }),
    code: 130,
    says: /cancelled/,
    timeLimitMs: 40_000,
  })),

  // ---- analyzer messages -----------------------------------------------------------------------
  message('an unknown mode', (dir, model) => ({ type: 'rescale', id: 11, request: { checkpoint: model, mode: 'bogus' } }), /invalid request: message\.request\.mode must be one of flatten, sharpen, alpha, got "bogus"/),
  message('a setting of the wrong type', (dir, model) => ({ type: 'analyze', id: 12, request: analyzeRequest(model, { settings: { eigenvalues: { count: 'many' } } }) }), /message\.request\.settings\.eigenvalues\.count must be an integer from 1 to 1000/),
  message('a data-set check with a file list that is not a list', () => ({ type: 'dataCandidates', id: 14, request: { model: { checkpoint: 'model.json' }, files: 'digits.csv' } }), /message\.request\.files must be a list/),
  message('an unknown message type', () => ({ type: 'format-disk', id: 13 }), /message\.type must be one of analyze, rescale, compareOutputs, dataCandidates, describe, cancel/),
  message('no checkpoint', () => ({ type: 'analyze', id: 14, request: { metrics: ['loss'] } }), /message\.request\.checkpoint is missing/),
  message('an unknown field', (dir, model) => ({ type: 'analyze', id: 15, request: analyzeRequest(model, { exec: 'rm -rf /' }) }), /message\.request has an unknown field 'exec'/),
  message('samples over the limit', (dir, model) => ({ type: 'analyze', id: 16, request: analyzeRequest(model, { samples: 1e12 }) }), /message\.request\.samples must be an integer from 1 to 10000000/),
  message('a NUL in a path', (dir, model) => ({ type: 'analyze', id: 17, request: analyzeRequest(`${model}\u0000.png`) }), /message\.request\.checkpoint must be a non-empty path or name without NUL characters/),
  message('an unknown metric', (dir, model) => ({ type: 'analyze', id: 18, request: analyzeRequest(model, { metrics: ['loss', 'curvature'] }) }), /message\.request\.metrics\[1\] must be one of loss, eigenvalues/),
  message('a negative α', (dir, model) => ({ type: 'rescale', id: 19, request: { checkpoint: model, mode: 'alpha', alphas: [2, -0.5] } }), /message\.request\.alphas\[1\] must be a positive finite number/),
  message('compareOutputs without a second checkpoint', (dir, model) => ({ type: 'compareOutputs', id: 20, request: { first: { checkpoint: model } } }), /message\.request\.second is missing/),
  message('an id that is not an integer', () => ({ type: 'cancel', id: 1.5 }), /ignored an invalid message: message\.id must be an integer/),
  message('a well-formed request is analyzed', (dir, model) => ({ type: 'analyze', id: 21, request: analyzeRequest(model) }), /analysis/, 0),
  message('a job writing over its own checkpoint is refused', (dir, model) => ({ type: 'rescale', id: 22, request: { checkpoint: model, mode: 'alpha', alphas: [2, 0.5] }, out: join(dir, 'group1-shard1of1.bin') }), /group1-shard1of1\.bin: is an input of this job/),
  modelCase('analyzer: Cancel is answered within a second', (dir, model, data) => ({
    async run(r) {
      const outcome = await r.analyzerCancel({ type: 'analyze', id: 40, request: { checkpoint: model.path, data, metrics: ['trace', 'volume'], settings: { trace: { samples: 100_000 }, volume: { directions: 100_000 } } } }, 500);
      return { ...outcome, stderr: `${outcome.stderr} (answered ${outcome.answeredMs} ms after Cancel)`, code: outcome.answeredMs <= 1000 ? outcome.code : 99 };
    },
    code: 1,
    says: /cancelled/,
    timeLimitMs: 40_000,
  })),
];
