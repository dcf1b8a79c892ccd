/**
 * ONNX Runtime's native binding, loaded and run synchronously: the objective's interface is
 * synchronous, and `InferenceSession.run` of the public API only wraps this call in a promise.
 * The binding is loaded by a computed name so bundlers leave the native addon outside the bundle.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeModel } from './onnxModel';
import { mallocReusesFreedBlocks } from '../reusingAllocator';

export type Device = 'cpu' | 'cuda';

export interface RuntimeOptions {
  /** Intra-op threads; 0 or undefined: every core. */
  readonly threads?: number;
  readonly device?: Device;
}

interface NativeTensor {
  readonly type: string;
  readonly data: Float32Array | BigInt64Array | Uint8Array;
  readonly dims: readonly number[];
}

/** A tensor ONNX Runtime takes as a feed and gives as an output. */
export type RuntimeTensor = NativeTensor;

interface NativeSession {
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: object): void;
  run(feeds: Record<string, NativeTensor>, fetches: Record<string, null>, options: object): Record<string, NativeTensor>;
  dispose(): void;
}

interface Runtime {
  readonly binding: { InferenceSession: new () => NativeSession; listSupportedBackends?: () => { name: string }[] };
  readonly Tensor: new (type: string, data: Float32Array | BigInt64Array, dims: readonly number[]) => unknown;
  readonly version: string;
}

let loaded: Runtime | string | undefined;

function load(): Runtime | string {
  try {
    const packageName = ['onnxruntime', 'node'].join('-');
    const ort = require(packageName) as { Tensor: Runtime['Tensor']; env: { versions: { node?: string; common: string } } };
    const bindingModule = require(`${packageName}/dist/binding`) as { binding: Runtime['binding']; initOrt: () => void };
    bindingModule.initOrt();
    return { binding: bindingModule.binding, Tensor: ort.Tensor, version: ort.env.versions.node ?? ort.env.versions.common };
  } catch (error) {
    return `onnxruntime-node did not load: ${(error as Error).message.split('\n')[0]}`;
  }
}

/** The runtime, or why it is not available (not installed, no binary for this platform). */
export function onnxRuntime(): Runtime | string {
  loaded ??= load();
  return loaded;
}

export function onnxRuntimeAvailable(): boolean {
  return typeof onnxRuntime() !== 'string';
}

/** Execution providers this build of onnxruntime-node has, e.g. ['cpu'] or ['cpu', 'cuda']. */
export function availableDevices(): Device[] {
  const runtime = onnxRuntime();
  if (typeof runtime === 'string') return [];
  const names = runtime.binding.listSupportedBackends?.().map((b) => b.name) ?? ['cpu'];
  return (['cpu', 'cuda'] as const).filter((d) => names.includes(d));
}

export function defaultThreads(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

const cudaHelp = 'see the README, "Running on a GPU": the CUDA files of onnxruntime-node are downloaded by its install script on Linux x64';

/** Whether the provider's shared library sits beside the native binding (where ONNX Runtime looks for it). */
function providerLibraryPresent(device: Device): boolean {
  try {
    const root = path.dirname(require.resolve(`${['onnxruntime', 'node'].join('-')}/package.json`));
    const dir = path.join(root, 'bin', 'napi-v6', process.platform, process.arch);
    const library = process.platform === 'win32' ? `onnxruntime_providers_${device}.dll` : `libonnxruntime_providers_${device}.so`;
    return fs.existsSync(path.join(dir, library));
  } catch {
    return false;
  }
}

/** Why `device` cannot run a graph here, or undefined when a one-node graph runs on it. */
export function probeDevice(device: Device): string | undefined {
  if (device === 'cpu') return undefined;
  if (!availableDevices().includes(device) || !providerLibraryPresent(device)) return `this onnxruntime-node has no ${device.toUpperCase()} execution provider (${cudaHelp})`;
  try {
    new GraphSession(encodeModel({ nodes: [{ op: 'Neg', inputs: ['a'], outputs: ['b'] }], initializers: [], inputs: [{ name: 'a', shape: [1], type: 'float' }], outputs: [{ name: 'b', shape: [1], type: 'float' }] }, 'probe'), { device, threads: 1 }).dispose();
    return undefined;
  } catch (error) {
    return `the ${device.toUpperCase()} execution provider did not start: ${(error as Error).message.split('\n')[0]} (${cudaHelp})`;
  }
}

/** One loaded graph, run synchronously with float32/int64 feeds. */
export class GraphSession {
  private readonly session: NativeSession;
  private readonly runtime: Runtime;

  constructor(model: Uint8Array, options: RuntimeOptions) {
    const runtime = onnxRuntime();
    if (typeof runtime === 'string') throw new Error(runtime);
    this.runtime = runtime;
    const device = options.device ?? 'cpu';
    this.session = new runtime.binding.InferenceSession();
    this.session.loadModel(model.buffer, model.byteOffset, model.byteLength, {
      graphOptimizationLevel: 'all',
      intraOpNumThreads: options.threads && options.threads > 0 ? options.threads : defaultThreads(),
      interOpNumThreads: 1,
      // Under the reusing malloc settings freed tensors come back from the heap already: ONNX
      // Runtime's arena would be a second pool per session, which each of a dozen sessions grows
      // and keeps (on the bench CNN it doubled the peak memory and slowed each session's first runs).
      enableCpuMemArena: !mallocReusesFreedBlocks(),
      executionMode: 'sequential',
      executionProviders: device === 'cuda' ? [{ name: 'cuda' }] : [{ name: 'cpu' }],
      // Pool threads that spin between operators take a core from Node's thread, which runs the
      // graph's other share: on a busy machine two spinning threads ran slower than one.
      extra: { 'session.intra_op.allow_spinning': '0' },
    });
  }

  run(feeds: Record<string, { data: Float32Array; shape: readonly number[] }>, outputs: readonly string[]): Record<string, Float32Array> {
    const tensors: Record<string, RuntimeTensor> = {};
    for (const [name, t] of Object.entries(feeds)) tensors[name] = this.tensor(t.data, t.shape);
    const results = this.runTensors(tensors, outputs);
    const out: Record<string, Float32Array> = {};
    for (const name of outputs) out[name] = results[name].data as Float32Array;
    return out;
  }

  /** A float32 tensor over `data` (not copied), to feed to `runTensors`. */
  tensor(data: Float32Array, shape: readonly number[]): RuntimeTensor {
    return new this.runtime.Tensor('float32', data, shape) as RuntimeTensor;
  }

  /** Runs with tensors as fed (another run's outputs included, whatever their element type). */
  runTensors(feeds: Record<string, RuntimeTensor>, outputs: readonly string[]): Record<string, RuntimeTensor> {
    const fetches: Record<string, null> = {};
    for (const name of outputs) fetches[name] = null;
    return this.session.run(feeds, fetches, {});
  }

  dispose(): void {
    this.session.dispose();
  }
}
