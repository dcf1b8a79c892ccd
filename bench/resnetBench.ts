/**
 * ResNet-18 (torchvision, 32×32 inputs) in `npm run bench`: one Hessian-vector product's time and
 * peak resident memory on ONNX Runtime (1 thread and 2), tfjs and PyTorch. Each engine runs in its
 * own process, so each peak memory is that engine's alone (a process's peak never goes down).
 */
import { peakResidentMemoryBytes } from '../src/engine/analysis/peakMemory';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Objective } from '../src/engine/analysis/objective';
import { onnxExecutorFactory } from '../src/engine/exec/onnxruntime/executorFactory';
import { readOnnx } from '../src/engine/formats/onnx/onnxFormat';
import { initBackend } from '../src/engine/model/backend';
import { NetworkFunction } from '../src/engine/model/network';
import { SeededRandom } from '../src/engine/numeric/random';
import { peerEnvironment, python } from './defaultAnalysisBench';

export interface EngineRun {
  readonly engine: string;
  readonly threads: number;
  readonly hvpMs?: number;
  /** PyTorch only: a product that reuses the gradient's graph (PyHessian's way). */
  readonly hvpReusingGraphMs?: number;
  readonly peakRssMb?: number;
  readonly error?: string;
}

export const measureFlag = '--measure-resnet';
/** Products timed before the median, as bench/torchvisionPeer.py does: both engines settle their memory in the first two. */
const warmUps = 2;

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** In a child process: one engine's product time on the exported file; prints the EngineRun as JSON. */
export async function measureInThisProcess(args: readonly string[]): Promise<void> {
  const [file, engine, threadsText, batchText, repeatsText] = args;
  const [threads, batch, repeats] = [threadsText, batchText, repeatsText].map(Number);
  await initBackend(engine === 'onnxruntime' ? 'auto' : (engine as 'wasm'));
  const network = new NetworkFunction(await readOnnx(file));
  const random = new SeededRandom(1);
  const inputs = new Float32Array(batch * 32 * 32 * 3).map(() => random.uniform());
  const classes = Int32Array.from({ length: batch }, () => Math.floor(random.uniform() * 10));
  const dataset = { source: 'random', count: batch, sampleShape: [32, 32, 3], inputs, targets: { kind: 'classes' as const, classes } };
  const objective = new Objective(network, dataset, 'ce', batch, engine === 'onnxruntime' ? onnxExecutorFactory({ threads }) : undefined);
  // As the estimators ask for products: a flat vector through the objective's operator.
  const operator = objective.hessianOperator();
  const v = random.normals(operator.dimension);
  // As the Lanczos runs do: the products land in the same array every time.
  const into = [new Float32Array(operator.dimension)];
  const samples: number[] = [];
  for (let i = 0; i < repeats + warmUps; i++) {
    const t0 = performance.now();
    operator.products([v], into);
    if (i >= warmUps) samples.push(performance.now() - t0);
  }
  const run: EngineRun = { engine: engine === 'onnxruntime' ? 'onnxruntime' : `tfjs-${engine}`, threads, hvpMs: median(samples), peakRssMb: peakResidentMemoryBytes() / 2 ** 20 };
  process.stdout.write(JSON.stringify(run) + '\n');
}

function lastJsonLine<T>(text: string): T {
  return JSON.parse(text.trim().split('\n').pop()!) as T;
}

/**
 * Exports ResNet-18 with bench/torchvisionPeer.py and times it on each engine; PyTorch too when
 * `withTorch`. Needs Debian's python3-torch and python3-torchvision (else one error entry).
 */
export function resnetRuns(benchScript: string, workDir: string, batch: number, repeats: number, withTorch: boolean): { parameters?: number; runs: EngineRun[] } {
  const peerScript = path.join(path.dirname(benchScript), '..', 'bench', 'torchvisionPeer.py');
  const file = path.join(workDir, 'resnet18-opset17.onnx');
  fs.mkdirSync(workDir, { recursive: true });
  const exported = spawnSync(python, [peerScript, 'export', '--out', file], { encoding: 'utf8', timeout: 300_000, env: peerEnvironment() });
  if (exported.status !== 0) return { runs: [{ engine: 'export', threads: 0, error: (exported.stderr || exported.error?.message || 'failed').trim().split('\n').pop() }] };
  const parameters = lastJsonLine<{ parameters: number }>(exported.stdout).parameters;
  const runs: EngineRun[] = [];
  const child = (command: string, args: string[], engine: string, threads: number, env: NodeJS.ProcessEnv = process.env) => {
    const run = spawnSync(command, args, { encoding: 'utf8', timeout: 1_800_000, maxBuffer: 16 * 1024 * 1024, env });
    const result: EngineRun = run.status === 0 ? lastJsonLine<EngineRun>(run.stdout) : { engine, threads, error: (run.stderr || run.error?.message || 'failed').trim().split('\n').pop() };
    runs.push({ ...result, engine });
    process.stderr.write(`resnet18 (batch ${batch}): ${engine} ${threads} thread(s): ${result.error ?? `HVP ${result.hvpMs!.toFixed(0)} ms, peak ${result.peakRssMb!.toFixed(0)} MB`}\n`);
  };
  for (const threads of [1, 2]) child(process.execPath, [benchScript, measureFlag, file, 'onnxruntime', String(threads), String(batch), String(repeats)], 'onnxruntime', threads);
  child(process.execPath, [benchScript, measureFlag, file, 'wasm', '1', String(batch), '1'], 'tfjs-wasm', 1);
  if (withTorch) {
    const hvp = (threads: number) => [peerScript, 'hvp', '--batch', String(batch), '--threads', String(threads), '--repeats', String(repeats)];
    for (const threads of [1, 2]) child(python, hvp(threads), 'pytorch', threads, peerEnvironment());
    for (const threads of [1, 2]) child(python, hvp(threads), 'pytorch, same malloc settings', threads, peerEnvironment(true));
  }
  return { parameters, runs };
}
