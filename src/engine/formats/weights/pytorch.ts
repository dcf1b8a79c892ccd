/**
 * PyTorch `.pt`/`.pth` files in the zip format `torch.save` writes since PyTorch 1.6:
 * `<archive>/data.pkl` describes the tensors and `<archive>/data/<key>` holds each storage's bytes.
 * The pickle is interpreted by a strict unpickler that executes nothing and accepts only the
 * globals a state dict needs; any other global is refused.
 *
 * Layouts read: a flat `{name: tensor}` dict at the top (`torch.save(model.state_dict())`), or a
 * training checkpoint whose `state_dict`, `model_state_dict`, `model`, `net` or `network` entry is such a dict (its other
 * entries, e.g. optimizer state, are ignored). Nested dicts of tensors are not flattened. Tensors
 * must be contiguous and little-endian. Legacy (pre-1.6, not zip) files and TorchScript archives
 * are not read.
 */
import { resolve } from 'node:path';
import { FileProblem } from '../../../protocol/errors';
import { writeNewFilesAtomically } from '../../io/atomicWrite';
import { describeFsError } from '../../io/fsErrors';
import { conversionNotes, decodeFloats, float32Bytes, type FloatEncoding } from './floatElements';
import { describePickleValue, PickleDict, PickleGlobal, PickleHostObject, PickleTuple, unpickle, type PickleHooks, type PickleValue } from './pickle';
import type { StoredTensor, TensorFile, TensorFileFormat } from './tensorFile';
import { entryData, entryNamesInHead, isZipMagic, memorySource, readZipArchive, rewriteZip, type ByteSource, type ZipArchive, type ZipEntry } from '../../io/zipArchive';
import { readJobFile, withJobFileSource } from '../../io/jobFiles';

export const PYTORCH_FORMAT_ID = 'pytorch';

interface StorageType {
  /** PyTorch's dtype name. */
  readonly dtype: string;
  readonly width: number;
  readonly encoding?: FloatEncoding;
}

const STORAGE_TYPES: Readonly<Record<string, StorageType>> = {
  FloatStorage: { dtype: 'float32', width: 4, encoding: 'f32' },
  DoubleStorage: { dtype: 'float64', width: 8, encoding: 'f64' },
  HalfStorage: { dtype: 'float16', width: 2, encoding: 'f16' },
  BFloat16Storage: { dtype: 'bfloat16', width: 2, encoding: 'bf16' },
  LongStorage: { dtype: 'int64', width: 8 },
  IntStorage: { dtype: 'int32', width: 4 },
  ShortStorage: { dtype: 'int16', width: 2 },
  CharStorage: { dtype: 'int8', width: 1 },
  ByteStorage: { dtype: 'uint8', width: 1 },
  BoolStorage: { dtype: 'bool', width: 1 },
};

/** Where the state dict may sit inside a training checkpoint, tried in this order. */
const STATE_DICT_KEYS = ['state_dict', 'model_state_dict', 'model', 'net', 'network'];

class TorchStorage extends PickleHostObject {
  constructor(readonly key: string, readonly typeName: string, readonly type: StorageType, readonly numel: number) {
    super();
  }
}

class TorchTensor extends PickleHostObject {
  constructor(readonly storage: TorchStorage, readonly offset: number, readonly shape: readonly number[], readonly stride: readonly number[]) {
    super();
  }
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
}

interface NamedTensor {
  readonly name: string;
  readonly tensor: TorchTensor;
}

interface PytorchContents {
  readonly archive: ZipArchive;
  readonly entries: ReadonlyMap<string, ZipEntry>;
  /** `mlp/`: the folder holding data.pkl. */
  readonly prefix: string;
  /** The state dict, in its order. */
  readonly tensors: readonly NamedTensor[];
  /** Every tensor the pickle rebuilds, named or not (e.g. inside an ignored optimizer state). */
  readonly allTensors: readonly TorchTensor[];
  readonly notes: readonly string[];
}

function isAllowedGlobal(module: string, name: string): boolean {
  if (module === 'collections') return name === 'OrderedDict';
  if (module === 'torch._utils') return name === '_rebuild_tensor_v2' || name === '_rebuild_parameter';
  return module === 'torch' && /^[A-Za-z0-9]+Storage$/.test(name);
}

async function readBytes(file: string): Promise<Uint8Array> {
  try {
    return await readJobFile(file);
  } catch (error) {
    if (error instanceof FileProblem) throw error;
    throw new FileProblem(file, `cannot read it (${describeFsError(error)})`);
  }
}

function nonNegativeInteger(value: PickleValue, what: string, fail: (problem: string) => never): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  return fail(`${what} is ${describePickleValue(value)}, not a non-negative integer`);
}

function integerTuple(value: PickleValue, what: string, fail: (problem: string) => never): number[] {
  if (!(value instanceof PickleTuple)) return fail(`${what} is ${describePickleValue(value)}, not a tuple`);
  return value.items.map((item, i) => nonNegativeInteger(item, `${what}[${i}]`, fail));
}

/** Hooks that give meaning to exactly the globals a state dict uses; everything else is refused. */
function stateDictHooks(file: string, where: string, allTensors: TorchTensor[]): PickleHooks {
  const fail = (problem: string): never => {
    throw new FileProblem(file, `${where}: ${problem}`);
  };
  const storages = new Map<string, TorchStorage>();
  return {
    global(module, name) {
      if (!isAllowedGlobal(module, name)) {
        throw new FileProblem(file, `refusing to load: it names the Python global '${module}.${name}', which Flatness Lens never executes (only PyTorch state dicts of tensors are read)`);
      }
      return new PickleGlobal(module, name);
    },
    reduce(callable, args) {
      if (!(callable instanceof PickleGlobal)) return fail(`a call of ${describePickleValue(callable)}, which is not a function`);
      const items = args.items;
      switch (callable.qualifiedName) {
        case 'collections.OrderedDict':
          if (items.length !== 0) fail('OrderedDict is called with arguments; only an empty OrderedDict() filled item by item is supported');
          return new PickleDict();
        case 'torch._utils._rebuild_tensor_v2': {
          if (items.length !== 6 && items.length !== 7) fail(`_rebuild_tensor_v2 gets ${items.length} arguments, expected 6 or 7`);
          const storage = items[0];
          if (!(storage instanceof TorchStorage)) return fail(`_rebuild_tensor_v2 gets ${describePickleValue(storage)} as its storage`);
          const tensor = new TorchTensor(
            storage,
            nonNegativeInteger(items[1], 'a tensor storage offset', fail),
            integerTuple(items[2], 'a tensor shape', fail),
            integerTuple(items[3], 'a tensor stride', fail),
          );
          if (tensor.shape.length !== tensor.stride.length) fail(`a tensor has shape [${tensor.shape.join(', ')}] but stride [${tensor.stride.join(', ')}]`);
          if (!Number.isSafeInteger(tensor.numel)) fail(`a tensor has shape [${tensor.shape.join(', ')}], too large to be real`);
          allTensors.push(tensor);
          return tensor;
        }
        case 'torch._utils._rebuild_parameter':
          if (items.length !== 3 || !(items[0] instanceof TorchTensor)) return fail('_rebuild_parameter is called with arguments other than (tensor, requires_grad, hooks)');
          return items[0];
        default:
          return fail(`'${callable.qualifiedName}' is called directly, which a state dict never does`);
      }
    },
    persistentLoad(pid) {
      const items = pid instanceof PickleTuple ? pid.items : [];
      const [kind, type, key, , numel] = items;
      if (items.length !== 5 || kind !== 'storage' || !(type instanceof PickleGlobal) || typeof key !== 'string') {
        return fail(`a persistent id is ${describePickleValue(pid)}; expected ('storage', type, key, location, size)`);
      }
      const storageType = STORAGE_TYPES[type.name] ?? fail(`storage '${key}' has type torch.${type.name}, which Flatness Lens does not read (supported: ${Object.keys(STORAGE_TYPES).join(', ')})`);
      const storage = new TorchStorage(key, type.name, storageType, nonNegativeInteger(numel, `the size of storage '${key}'`, fail));
      const known = storages.get(key);
      if (known === undefined) {
        storages.set(key, storage);
        return storage;
      }
      if (known.typeName !== storage.typeName || known.numel !== storage.numel) fail(`storage '${key}' is described twice, differently`);
      return known;
    },
  };
}

function findPickle(archive: ZipArchive): ZipEntry {
  const candidates = archive.entries.filter((entry) => /^[^/]+\/data\.pkl$/.test(entry.name));
  if (candidates.length === 1) return candidates[0];
  if (candidates.length > 1) throw new FileProblem(archive.file, `holds several pickles (${candidates.map((e) => e.name).join(', ')}); expected one <archive>/data.pkl`);
  if (archive.entries.some((entry) => entry.name.endsWith('constants.pkl'))) {
    throw new FileProblem(archive.file, 'is a TorchScript archive (torch.jit.save); save the state dict with torch.save(model.state_dict(), path) instead');
  }
  throw new FileProblem(archive.file, 'has no <archive>/data.pkl entry: not a PyTorch checkpoint written by torch.save');
}

function chooseStateDict(file: string, root: PickleValue): { dict: PickleDict; notes: string[] } {
  if (!(root instanceof PickleDict)) {
    throw new FileProblem(file, `holds ${describePickleValue(root)}, not a state dict; save it with torch.save(model.state_dict(), path)`);
  }
  for (const key of STATE_DICT_KEYS) {
    const inner = root.entries.get(key);
    if (inner instanceof PickleDict) {
      const others = [...root.entries.keys()].filter((k) => k !== key).map(String);
      const ignored = others.length > 0 ? `; its other entries (${others.join(', ')}) were ignored` : '';
      return { dict: inner, notes: [`read the state dict stored under '${key}'${ignored}`] };
    }
  }
  return { dict: root, notes: [] };
}

function checkLayout(file: string, name: string, tensor: TorchTensor, entries: ReadonlyMap<string, ZipEntry>, prefix: string): void {
  const fail = (problem: string): never => {
    throw new FileProblem(file, `tensor '${name}': ${problem}`);
  };
  const { storage, shape, stride, offset, numel } = tensor;
  let expected = 1;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    if (shape[axis] !== 1 && stride[axis] !== expected) {
      fail(`it is not contiguous (shape [${shape.join(', ')}], stride [${stride.join(', ')}]); Flatness Lens reads contiguous tensors only: save tensor.contiguous()`);
    }
    expected *= shape[axis];
  }
  if (numel > 0 && offset + numel > storage.numel) {
    fail(`it needs elements ${offset}..${offset + numel} of storage '${storage.key}', which holds ${storage.numel}`);
  }
  const entryName = `${prefix}data/${storage.key}`;
  const entry = entries.get(entryName) ?? fail(`its storage '${entryName}' is missing from the archive`);
  const bytes = storage.numel * storage.type.width;
  if (entry.size !== bytes) {
    fail(`storage '${entryName}' holds ${entry.size} bytes, but data.pkl declares ${storage.numel} ${storage.type.dtype} elements (${bytes} bytes); the file is truncated or corrupt`);
  }
}

function readContents(file: string, source: ByteSource): PytorchContents {
  const archive = readZipArchive(file, source, 'PyTorch zip archive');
  const entries = new Map(archive.entries.map((entry) => [entry.name, entry]));
  const pickleEntry = findPickle(archive);
  const prefix = pickleEntry.name.slice(0, -'data.pkl'.length);
  const byteorder = entries.get(`${prefix}byteorder`);
  if (byteorder !== undefined) {
    const order = new TextDecoder().decode(entryData(archive, byteorder)).trim();
    if (order !== 'little') throw new FileProblem(file, `was saved with byte order '${order}'; Flatness Lens reads little-endian .pt files only`);
  }
  const allTensors: TorchTensor[] = [];
  const root = unpickle(file, pickleEntry.name, entryData(archive, pickleEntry), stateDictHooks(file, pickleEntry.name, allTensors));
  const { dict, notes } = chooseStateDict(file, root);
  const tensors: NamedTensor[] = [];
  for (const [name, value] of dict.entries) {
    if (typeof name !== 'string') throw new FileProblem(file, `the state dict has a key ${describePickleValue(name)}; expected tensor names`);
    if (!(value instanceof TorchTensor)) {
      throw new FileProblem(file, `state dict entry '${name}' holds ${describePickleValue(value)}, not a tensor; Flatness Lens reads flat state dicts ({name: tensor})`);
    }
    checkLayout(file, name, value, entries, prefix);
    tensors.push({ name, tensor: value });
  }
  return { archive, entries, prefix, tensors, allTensors, notes };
}

async function readTensors(path: string): Promise<TensorFile> {
  const file = resolve(path);
  const contents = readContents(file, memorySource(await readBytes(file)));
  const storageBytes = new Map<string, Uint8Array>();
  const converted = new Set<string>();
  const tensors: StoredTensor[] = contents.tensors.map(({ name, tensor }) => {
    const { type, key } = tensor.storage;
    if (type.encoding === undefined) return { name, dtype: type.dtype, shape: tensor.shape };
    let bytes = storageBytes.get(key);
    if (bytes === undefined) {
      bytes = entryData(contents.archive, storageEntry(contents, tensor));
      storageBytes.set(key, bytes);
    }
    if (type.encoding !== 'f32') converted.add(type.dtype);
    return { name, dtype: type.dtype, shape: tensor.shape, values: decodeFloats(bytes, tensor.offset * type.width, tensor.numel, type.encoding) };
  });
  const notes = [...contents.notes, ...conversionNotes(converted, 'tensors')];
  return { path: file, format: PYTORCH_FORMAT_ID, tensors, notes };
}

function storageEntry(contents: PytorchContents, tensor: TorchTensor): ZipEntry {
  return contents.entries.get(`${contents.prefix}data/${tensor.storage.key}`) as ZipEntry;
}

/** Reads the zip directory and data.pkl only. */
async function countParameters(path: string): Promise<number> {
  const file = resolve(path);
  return withJobFileSource(file, (source) => {
    const contents = readContents(file, source);
    return contents.tensors.reduce((sum, { tensor }) => sum + (tensor.storage.type.encoding === undefined ? 0 : tensor.numel), 0);
  });
}

/** Tensors that are the same view of the same storage (e.g. tied weights pickled once). */
interface ViewGroup {
  readonly tensor: TorchTensor;
  /** Their names in the state dict. */
  readonly names: string[];
  /** Rebuilt tensors in the group that the state dict does not name (they sit elsewhere in the file). */
  unnamed: number;
}

function viewKey(tensor: TorchTensor): string {
  return `${tensor.storage.key}|${tensor.offset}|${tensor.shape.join()}|${tensor.stride.join()}`;
}

function overlaps(a: TorchTensor, b: TorchTensor): boolean {
  return a.storage.key === b.storage.key && a.numel > 0 && b.numel > 0 && a.offset < b.offset + b.numel && b.offset < a.offset + a.numel;
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.length === y.length && x.every((bits, i) => bits === y[i]);
}

/**
 * Refuses replacements that cannot be written without changing another tensor: a storage shared
 * by overlapping tensors can only be rewritten when they are one view and all get the same values.
 */
function checkSharedStorages(file: string, contents: PytorchContents, replacements: ReadonlyMap<string, Float32Array>): void {
  const groups = new Map<string, ViewGroup>();
  const groupOf = (tensor: TorchTensor): ViewGroup => {
    const key = viewKey(tensor);
    let group = groups.get(key);
    if (group === undefined) groups.set(key, (group = { tensor, names: [], unnamed: 0 }));
    return group;
  };
  const named = new Set(contents.tensors.map((t) => t.tensor));
  for (const tensor of contents.allTensors) if (!named.has(tensor)) groupOf(tensor).unnamed++;
  for (const { name, tensor } of contents.tensors) groupOf(tensor).names.push(name);
  const groupsByStorage = new Map<string, ViewGroup[]>();
  for (const group of groups.values()) {
    const list = groupsByStorage.get(group.tensor.storage.key) ?? [];
    list.push(group);
    groupsByStorage.set(group.tensor.storage.key, list);
  }

  for (const group of groups.values()) {
    const replaced = group.names.filter((name) => replacements.has(name));
    if (replaced.length === 0) continue;
    const kept = group.names.filter((name) => !replacements.has(name));
    if (kept.length > 0) {
      throw new FileProblem(file, `tensors '${replaced[0]}' and '${kept[0]}' are one tensor in the file (tied weights); replace both with the same values or neither`);
    }
    if (group.unnamed > 0) {
      throw new FileProblem(file, `tensor '${replaced[0]}' also occurs outside the state dict, which would change too; save the state dict alone with torch.save(model.state_dict(), path)`);
    }
    const first = replacements.get(replaced[0]) as Float32Array;
    const different = replaced.find((name) => !sameBits(replacements.get(name) as Float32Array, first));
    if (different !== undefined) {
      throw new FileProblem(file, `tensors '${replaced[0]}' and '${different}' are one tensor in the file (tied weights) but get different values`);
    }
    for (const other of groupsByStorage.get(group.tensor.storage.key) ?? []) {
      if (other === group || !overlaps(other.tensor, group.tensor)) continue;
      const otherName = other.names.length > 0 ? `'${other.names[0]}'` : 'another tensor in the file';
      throw new FileProblem(
        file,
        `tensor '${replaced[0]}' shares storage '${group.tensor.storage.key}' with ${otherName} and their elements overlap; writing new values into it would change that tensor too`,
      );
    }
  }
}

// A .pt file has no place for provenance without rewriting data.pkl, which is kept as it is.
const writeTensors: TensorFileFormat['writeTensors'] = async (originalPath, replacements, outPath) => {
  const file = resolve(originalPath);
  const out = resolve(outPath);
  const contents = readContents(file, memorySource(await readBytes(file)));
  const byName = new Map(contents.tensors.map((t) => [t.name, t.tensor]));
  for (const [name, values] of replacements) {
    const tensor = byName.get(name) ?? fail(file, `has no tensor named '${name}' to replace`);
    if (tensor.storage.type.encoding !== 'f32') {
      fail(file, `tensor '${name}' is stored as ${tensor.storage.type.dtype}; only float32 tensors can be replaced in a .pt file, because data.pkl, which fixes each storage's type, is kept unchanged`);
    }
    if (values.length !== tensor.numel) fail(file, `tensor '${name}' has ${tensor.numel} values (shape [${tensor.shape.join(', ')}]) but ${values.length} were given`);
  }
  checkSharedStorages(file, contents, replacements);

  const newStorages = new Map<string, Uint8Array>();
  for (const [name, values] of replacements) {
    const tensor = byName.get(name) as TorchTensor;
    const entry = storageEntry(contents, tensor);
    let data = newStorages.get(entry.name);
    if (data === undefined) newStorages.set(entry.name, (data = new Uint8Array(entryData(contents.archive, entry))));
    data.set(float32Bytes(values), tensor.offset * 4);
  }
  await writeNewFilesAtomically([{ path: out, data: rewriteZip(contents.archive, newStorages) }]);
  return [out];
};

function fail(file: string, problem: string): never {
  throw new FileProblem(file, problem);
}

export const pytorchFile: TensorFileFormat = {
  id: PYTORCH_FORMAT_ID,
  displayName: 'PyTorch state dict (.pt, .pth)',
  match: (fileName, head) => /\.pth?$/i.test(fileName) && isZipMagic(head) && entryNamesInHead(head).some((name) => /^[^/]+\/data\.pkl$/.test(name)),
  readTensors,
  countParameters,
  writeTensors,
};
