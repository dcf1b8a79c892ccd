import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { Objective } from '../src/engine/analysis/objective';
import { disposeVector } from '../src/engine/analysis/vectors';
import type { Dataset } from '../src/engine/data/dataset';
import { onnxExecutorFactory } from '../src/engine/exec/onnxruntime/executorFactory';
import { defaultThreads, onnxRuntimeAvailable } from '../src/engine/exec/onnxruntime/runtime';
import type { NetworkFunction } from '../src/engine/model/network';
import { SeededRandom } from '../src/engine/numeric/random';

const seededNormals = (n: number, seed: number) => new SeededRandom(seed).normals(n);

export interface OnnxTiming {
  readonly threads: number;
  readonly forwardMs: number;
  readonly gradientMs: number;
  readonly hvpMs: number;
  /** Time per direction when k directions share one forward and backward pass. */
  readonly blocks: { directions: number; perDirectionMs: number }[];
  /** Peak resident memory of this process so far (MB): an upper bound for the ONNX Runtime run. */
  readonly peakRssMb: number;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Runs before the median: ONNX Runtime settles its memory in the first two. */
const warmUps = 2;

function time(repeats: number, work: () => void): number {
  for (let i = 0; i < warmUps; i++) work();
  const samples: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    work();
    samples.push(performance.now() - t0);
  }
  return median(samples);
}

/** ONNX Runtime's forward, gradient and HVP times at one thread and at every core. */
export function onnxTimings(network: NetworkFunction, dataset: Dataset, batch: number, repeats: number): OnnxTiming[] {
  if (!onnxRuntimeAvailable()) return [];
  const out: OnnxTiming[] = [];
  for (const threads of [...new Set([1, defaultThreads()])]) {
    const objective = new Objective(network, dataset, 'ce', batch, onnxExecutorFactory({ threads }));
    // Products as the estimators ask for them: flat vectors through the objective's operator, one
    // run per block of at most 4 directions.
    const operator = objective.hessianOperator();
    const directions = [0, 1, 2, 3].map((d) => Float32Array.from(seededNormals(operator.dimension, d)));
    const forwardMs = time(repeats, () => objective.value());
    const gradientMs = time(repeats, () => disposeVector(objective.gradient().gradient));
    // As the Lanczos runs ask for them: into the same arrays every time.
    const into = directions.map((v) => new Float32Array(v.length));
    const samples = Math.max(9, repeats);
    const hvpMs = time(samples, () => operator.products(directions.slice(0, 1), into));
    const blocks = [2, 4].map((k) => ({ directions: k, perDirectionMs: time(samples, () => operator.products(directions.slice(0, k), into)) / k }));
    objective.dispose();
    out.push({ threads, forwardMs, gradientMs, hvpMs, blocks: [{ directions: 1, perDirectionMs: hvpMs }, ...blocks], peakRssMb: process.resourceUsage().maxRSS / 1024 });
  }
  return out;
}

/**
 * PyTorch's HVP time (the PyHessian-style peer's mean over its products) on the saved network and
 * data: the median of `runs` runs (seeds 0, 1, …), as this machine's timings wander between runs.
 */
export function torchPeer(script: string, modelDir: string, threads: readonly number[], runs = 3): { threads: number; secondsPerHvp?: number; hvps?: number; runs?: number[]; error?: string }[] {
  return threads.map((t) => {
    const results: { secondsPerHvp: number; hvps: number }[] = [];
    for (let seed = 0; seed < runs; seed++) {
      const run = spawnSync('/usr/bin/python3', [script, 'peer', '--model', modelDir, '--data', path.join(modelDir, 'data.npz'), '--threads', String(t), '--seed', String(seed)], { encoding: 'utf8', timeout: 600_000 });
      if (run.status !== 0) return { threads: t, error: (run.stderr || run.error?.message || 'failed').trim().split('\n').pop() };
      results.push(JSON.parse(run.stdout.trim().split('\n').pop()!) as { secondsPerHvp: number; hvps: number });
    }
    const middle = [...results].sort((a, b) => a.secondsPerHvp - b.secondsPerHvp)[Math.floor(results.length / 2)];
    return { threads: t, secondsPerHvp: middle.secondsPerHvp, hvps: middle.hvps, runs: results.map((r) => r.secondsPerHvp) };
  });
}
