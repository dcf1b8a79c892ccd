import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { reusingAllocatorEnvironment, withReusingAllocator } from '../src/engine/exec/reusingAllocator';

/** The Python the peers run in (Debian's, where python3-torch installs). */
export const python = '/usr/bin/python3';

/**
 * The environment a PyTorch peer runs in: PyTorch's defaults (this process runs with the malloc
 * settings of src/engine/exec/reusingAllocator.ts, which its children would inherit), or with
 * those settings too (`sameMalloc`), to show what they do for PyTorch.
 */
export function peerEnvironment(sameMalloc = false): NodeJS.ProcessEnv {
  if (sameMalloc) return withReusingAllocator(process.env);
  const env = { ...process.env };
  for (const [name, value] of Object.entries(reusingAllocatorEnvironment)) if (env[name] === value) delete env[name];
  return env;
}

/** The bench's own PyHessian peer, beside this bundle's sources. */
export function defaultPeerScript(benchDir: string): string {
  return path.join(benchDir, '..', 'bench', 'pyhessianPeer.py');
}

export function pythonHasTorch(): boolean {
  return spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8', timeout: 120_000, env: peerEnvironment() }).status === 0;
}

export interface PeerRun {
  /** The top eigenvalue and the trace. */
  readonly seconds: number;
  readonly hvps: number;
  readonly trace: number;
  readonly topEigenvalue?: number;
  readonly seed?: number;
  /** The spectral density, after them. */
  readonly secondsDensity?: number;
  readonly densityHvps?: number;
}

/** A peer run's time and products for what a row compares: with or without the density. */
export function peerCost(run: PeerRun, withDensity: boolean): { seconds: number; hvps: number } {
  return withDensity ? { seconds: run.seconds + (run.secondsDensity ?? Number.NaN), hvps: run.hvps + (run.densityHvps ?? 0) } : { seconds: run.seconds, hvps: run.hvps };
}

export interface PeerRuns {
  readonly threads: number;
  readonly runs: PeerRun[];
  readonly error?: string;
}

/** `python3 SCRIPT peer --density` on a saved network at `threads`, once per seed. */
export function runPeer(script: string, modelDir: string, threads: number, seeds: number): PeerRuns {
  const runs: PeerRun[] = [];
  for (let seed = 0; seed < seeds; seed++) {
    const run = spawnSync(python, [script, 'peer', '--density', '--model', modelDir, '--data', path.join(modelDir, 'data.npz'), '--threads', String(threads), '--seed', String(seed)], { encoding: 'utf8', timeout: 1_200_000, env: peerEnvironment() });
    if (run.status !== 0) return { threads, runs, error: (run.stderr || run.error?.message || 'failed').trim().split('\n').pop() };
    runs.push(JSON.parse(run.stdout.trim().split('\n').pop()!) as PeerRun);
  }
  return { threads, runs };
}

/** The peer's run of median cost for a row (PyHessian's stopping rules make its product count vary with the seed). */
export function medianPeerRun(peer: PeerRuns, withDensity: boolean): PeerRun | undefined {
  const sorted = [...peer.runs].sort((a, b) => peerCost(a, withDensity).seconds - peerCost(b, withDensity).seconds);
  return sorted[Math.floor(sorted.length / 2)];
}

export interface AnalysisVsPeerRow {
  readonly model: string;
  /** The metrics of our analysis, as `--metrics` names them. */
  readonly metrics: string;
  /** Whether the row compares the peer's time with its density (our metrics include the density). */
  readonly withDensity: boolean;
  readonly threads: number;
  readonly ours: { seconds: number; products: number };
  readonly peer?: PeerRuns;
}

/** "default analysis vs peer": our whole default analysis next to the peer's, at equal threads. */
export function analysisVsPeerTable(rows: readonly AnalysisVsPeerRow[]): string {
  const lines = [
    '| default analysis vs peer | our metrics | threads | ours: products, s | peer (PyHessian defaults, the same metrics, median of seeds): products, s | peer runs: products, s | ours / peer time |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const run = r.peer && r.peer.runs.length > 0 ? medianPeerRun(r.peer, r.withDensity) : undefined;
    const median = run && peerCost(run, r.withDensity);
    lines.push([
      '', r.model, r.metrics, r.threads, `${r.ours.products}, ${r.ours.seconds.toFixed(1)}`,
      median ? `${median.hvps}, ${median.seconds.toFixed(1)}` : (r.peer?.error ?? 'n/a'),
      r.peer ? r.peer.runs.map((p) => peerCost(p, r.withDensity)).map((p) => `${p.hvps}, ${p.seconds.toFixed(1)}`).join('; ') : 'n/a',
      median ? (r.ours.seconds / median.seconds).toFixed(2) : 'n/a',
      '',
    ].join(' | ').trim());
  }
  return lines.join('\n');
}
