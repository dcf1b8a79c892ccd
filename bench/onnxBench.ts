import { peakResidentMemoryBytes } from '../src/engine/analysis/peakMemory';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { Objective } from '../src/engine/analysis/objective';
import { disposeVector } from '../src/engine/analysis/vectors';
import type { Dataset } from '../src/engine/data/dataset';
import { onnxExecutorFactory } from '../src/engine/exec/onnxruntime/executorFactory';
import { defaultThreads, onnxRuntimeAvailable } from '../src/engine/exec/onnxruntime/runtime';
import type { NetworkFunction } from '../src/engine/model/network';
import { SeededRandom } from '../src/engine/numeric/random';
import { peerEnvironment, python } from './defaultAnalysisBench';

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
function onnxTimings(network: NetworkFunction, dataset: Dataset, batch: number, repeats: number): OnnxTiming[] {
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
    // Blocks of 1, 2 and 4 take turns, so that no block size alone sees the first products' slower
    // runs (they settle over the first few rounds) or a slow spell of the machine.
    const sizes = [1, 2, 4];
    const perDirection = sizes.map(() => [] as number[]);
    for (let round = -warmUps; round < Math.max(9, repeats); round++) {
      sizes.forEach((k, i) => {
        const t0 = performance.now();
        operator.products(directions.slice(0, k), into);
        if (round >= 0) perDirection[i].push((performance.now() - t0) / k);
      });
    }
    const [hvpMs, ...blockMs] = perDirection.map(median);
    const blocks = blockMs.map((perDirectionMs, i) => ({ directions: sizes[i + 1], perDirectionMs }));
    objective.dispose();
    out.push({ threads, forwardMs, gradientMs, hvpMs, blocks: [{ directions: 1, perDirectionMs: hvpMs }, ...blocks], peakRssMb: peakResidentMemoryBytes() / 2 ** 20 });
  }
  return out;
}

export interface TorchTiming {
  readonly threads: number;
  readonly secondsPerHvp?: number;
  readonly hvps?: number;
  /** Each round's time per HVP. */
  readonly runs?: number[];
  /** The median with the malloc settings this bench runs with (peerEnvironment(true)). */
  readonly secondsPerHvpSameMalloc?: number;
  readonly error?: string;
}

type TorchRun = { secondsPerHvp: number; hvps: number } | { error: string };

/** PyTorch's HVP time: the PyHessian-style peer's mean over its products, one run with `seed`. */
function torchRun(script: string, modelDir: string, threads: number, seed: number, sameMalloc: boolean): TorchRun {
  const run = spawnSync(python, [script, 'peer', '--model', modelDir, '--data', path.join(modelDir, 'data.npz'), '--threads', String(threads), '--seed', String(seed)], { encoding: 'utf8', timeout: 600_000, env: peerEnvironment(sameMalloc) });
  if (run.status !== 0) return { error: (run.stderr || run.error?.message || 'failed').trim().split('\n').pop() ?? 'failed' };
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as { secondsPerHvp: number; hvps: number };
}

/**
 * ONNX Runtime's timings and PyTorch's (when `torch` names the peer script and the saved network)
 * in `rounds` alternating rounds, each side's median over them: this machine's speed wanders over
 * minutes, and rounds side by side see the same wander.
 */
export function productTimings(network: NetworkFunction, dataset: Dataset, batch: number, repeats: number, torch?: { script: string; modelDir: string }, rounds = 3): { onnx: OnnxTiming[]; torch?: TorchTiming[] } {
  const onnxRounds: OnnxTiming[][] = [];
  const torchRounds = new Map<number, { plain: TorchRun[]; sameMalloc: TorchRun[] }>();
  for (let round = 0; round < rounds; round++) {
    const timings = onnxTimings(network, dataset, batch, repeats);
    onnxRounds.push(timings);
    if (!torch) continue;
    for (const t of timings) {
      const runs = torchRounds.get(t.threads) ?? { plain: [], sameMalloc: [] };
      runs.plain.push(torchRun(torch.script, torch.modelDir, t.threads, round, false));
      runs.sameMalloc.push(torchRun(torch.script, torch.modelDir, t.threads, round, true));
      torchRounds.set(t.threads, runs);
    }
  }
  const onnx = (onnxRounds[0] ?? []).map((first, i) => {
    const of = (pick: (t: OnnxTiming) => number) => median(onnxRounds.map((r) => pick(r[i])));
    return {
      threads: first.threads,
      forwardMs: of((t) => t.forwardMs),
      gradientMs: of((t) => t.gradientMs),
      hvpMs: of((t) => t.hvpMs),
      blocks: first.blocks.map((b, k) => ({ directions: b.directions, perDirectionMs: of((t) => t.blocks[k].perDirectionMs) })),
      peakRssMb: Math.max(...onnxRounds.map((r) => r[i].peakRssMb)),
    };
  });
  if (!torch) return { onnx };
  const torchTimings = [...torchRounds].map(([threads, { plain, sameMalloc }]): TorchTiming => {
    const failed = [...plain, ...sameMalloc].find((r): r is { error: string } => 'error' in r);
    if (failed) return { threads, error: failed.error };
    const ok = plain as { secondsPerHvp: number; hvps: number }[];
    const middle = [...ok].sort((a, b) => a.secondsPerHvp - b.secondsPerHvp)[Math.floor(ok.length / 2)];
    const withSettings = median((sameMalloc as { secondsPerHvp: number }[]).map((r) => r.secondsPerHvp));
    return { threads, secondsPerHvp: middle.secondsPerHvp, hvps: middle.hvps, runs: ok.map((r) => r.secondsPerHvp), secondsPerHvpSameMalloc: withSettings };
  });
  return { onnx, torch: torchTimings };
}
