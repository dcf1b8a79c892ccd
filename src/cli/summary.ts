import { isWeightsReport, type AnyReport, type FlatnessReport, type TensorStatistics, type TraceReport, type WeightsReport } from '../protocol/report';

const fmt = (v: number | null | undefined, digits = 4): string => {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e5 || a < 1e-3 ? v.toExponential(digits - 1) : v.toPrecision(digits);
};

/** The human-readable summary that `flatness analyze` prints. */
export function formatSummary(report: AnyReport): string {
  return isWeightsReport(report) ? formatWeightsSummary(report) : formatFlatnessSummary(report);
}

/** Rows shown before "… and N more (--json has all)". */
const TENSOR_ROWS = 40;

function formatWeightsSummary(report: WeightsReport): string {
  const lines = [`Flatness Lens ${report.tool.version} — ${report.checkpoint.path}`];
  lines.push(`  ${'format / parameters'.padEnd(34)} ${report.checkpoint.format}, ${report.checkpoint.parameters.toLocaleString('en-US')} float values in ${report.tensors.length} tensors`);
  for (const note of report.checkpoint.notes) lines.push(`  ${'note'.padEnd(34)} ${note}`);
  lines.push('', ...tensorTable(report.tensors), '', `No Hessian metrics: ${report.checkpoint.path} ${report.architectureMissing}.`);
  return lines.join('\n');
}

function tensorTable(tensors: readonly TensorStatistics[]): string[] {
  const header = ['tensor', 'shape', 'dtype', '‖W‖_F', 'max |w|', '‖W‖₂', 'stable rank'];
  const rows = tensors.slice(0, TENSOR_ROWS).map((t) => [
    t.name,
    `[${t.shape.join(', ')}]`,
    t.dtype ?? 'float32',
    t.nonFinite > 0 ? `${t.nonFinite} non-finite` : fmt(t.l2Norm),
    fmt(t.maxAbs),
    t.matrix ? fmt(t.matrix.spectralNorm) + (t.matrix.converged ? '' : '*') : '',
    t.matrix ? fmt(t.matrix.stableRank, 3) : '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `  ${cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')}`.trimEnd();
  const out = [line(header), ...rows.map(line)];
  if (tensors.length > TENSOR_ROWS) out.push(`  … and ${tensors.length - TENSOR_ROWS} more (the --json report has all)`);
  if (tensors.some((t) => t.matrix && !t.matrix.converged)) out.push('  * Lanczos stopped before converging (300 steps)');
  return out;
}

function formatFlatnessSummary(report: FlatnessReport): string {
  const lines: string[] = [];
  const row = (label: string, value: string) => lines.push(`  ${label.padEnd(34)} ${value}`);
  lines.push(`Flatness Lens ${report.tool.version} — ${report.checkpoint.path}`);
  row('format / parameters', `${report.checkpoint.format}, ${report.checkpoint.parameters.toLocaleString('en-US')} trainable`);
  row('data', `${report.data.source} (${report.data.samples} samples)`);
  row('loss function', `${report.data.loss}: ${report.data.lossDefinition} [from ${report.data.lossFrom}]`);
  for (const note of report.checkpoint.notes) row('note', note);
  row('loss', fmt(report.loss, 6));
  if (report.accuracy !== null) row('accuracy', `${(report.accuracy * 100).toFixed(2)}%`);
  row('gradient norm', fmt(report.gradientNorm));
  const h = report.hessian;
  if (h.topEigenvalues) {
    row('Hessian top eigenvalues', h.topEigenvalues.map((v) => fmt(v)).join(', '));
    row('  Lanczos steps / max residual', `${h.lanczosSteps} / ${fmt(Math.max(...(h.eigenvalueResiduals ?? [0])), 2)}`);
  }
  if (h.trace) row('Hessian trace', `${fmt(h.trace.estimate)}${h.trace.method === 'exact' ? '' : ` ± ${fmt(h.trace.stderr, 2)}`} (${traceCost(h.trace)})`);
  if (h.blockTraces) {
    const tops = new Map((h.blockEigenvalues ?? []).map((e) => [e.name, e.value]));
    for (const b of h.blockTraces) row(`  Tr H[${b.name}]`, `${fmt(b.trace)}${b.exact ? ' (exact)' : ` ± ${fmt(b.stderr, 2)}`}${tops.has(b.name) ? `; λ_max of the block ${fmt(tops.get(b.name))}` : ''}`);
  } else if (h.blockEigenvalues) {
    for (const e of h.blockEigenvalues) row(`  λ_max(H[${e.name}])`, fmt(e.value));
  }
  if (h.density) {
    const nodes = h.density.nodes;
    const scale = Math.max(Math.abs(nodes[0]), Math.abs(nodes[nodes.length - 1]));
    const mass = (pred: (x: number) => boolean) => nodes.reduce((s, x, i) => s + (pred(x) ? h.density!.weights[i] : 0), 0);
    const nearZero = mass((x) => Math.abs(x) <= 1e-3 * scale);
    const negative = mass((x) => x < -1e-3 * scale);
    row('spectral density', `support [${fmt(nodes[0])}, ${fmt(nodes[nodes.length - 1])}]; mass near 0: ${(nearZero * 100).toFixed(1)}%, negative: ${(negative * 100).toFixed(1)}%`);
    const reused = h.density.reusedRuns ?? 0;
    row('  SLQ runs × steps', `${h.density.runs} × ${h.density.stepsPerRun?.join('/') ?? h.density.steps}${reused > 0 ? ` (${reused} reused from the eigenvalues' Lanczos run)` : ''}`);
  }
  const s = report.sharpness;
  if (s) {
    row(`ε-sharpness (ε=${s.epsilon})`, `full space ${fmt(s.fullSpace)}, ${s.subspace.dim}-dim subspace ${fmt(s.subspace.value)} (best of ${s.restarts} restarts, a lower bound)`);
    if (s.fullSpaceRestarts) row('  each restart', `full space ${restartRange(s.fullSpaceRestarts)}; subspace ${restartRange(s.subspace.restartValues ?? [])}`);
  }
  const v = report.volumeFlatness;
  if (v) {
    row(`volume ε-flatness (ε=${v.epsilon})`, `log-volume ${fmt(v.logVolume)}${v.logVolumeStderr === undefined ? '' : ` ± ${fmt(v.logVolumeStderr, 2)}`}; radius min/median/max ${fmt(v.radiusMin)}/${fmt(v.radiusMedian)}/${fmt(v.radiusMax)}`);
    row('  directions never leaving ε-band', `${(v.escapedFraction * 100).toFixed(0)}% of ${v.directions} (cap ${v.cap})`);
  }
  if (report.landscape) {
    const r = report.landscape.random;
    row('loss slice, random direction', `min ${fmt(Math.min(...r.loss))}, max ${fmt(Math.max(...r.loss))} over t∈[${fmt(r.steps[0])}, ${fmt(r.steps[r.steps.length - 1])}]`);
  }
  const inv = report.invariant;
  if (inv) {
    const m = inv.minTraceOverLayerScaling;
    if (m) {
      const value = m.unbounded ? 'unbounded (a block trace is negative)' : fmt(m.value);
      row('min trace over α-scale orbit', `${value} (now ${fmt(m.current)}, ${m.degreesOfFreedom} free scale${m.degreesOfFreedom === 1 ? '' : 's'})`);
      if (m.degreesOfFreedom > 0 && !m.unbounded) row('  reached at α', m.factors.map((f) => `${f.layer}=${fmt(f.alpha, 3)}`).join(', '));
    }
    row(`adaptive sharpness (ρ=${inv.adaptiveSharpness.rho})`, fmt(inv.adaptiveSharpness.value));
    row('Fisher–Rao norm', fmt(inv.fisherRaoNorm));
  }
  const matrices = (report.tensors ?? []).filter((t) => t.matrix);
  if (matrices.length > 0) {
    const largest = matrices.reduce((a, b) => (b.matrix!.spectralNorm > a.matrix!.spectralNorm ? b : a));
    const product = matrices.reduce((p, t) => p * t.matrix!.spectralNorm, 1);
    row('weight spectral norms', `largest ${fmt(largest.matrix!.spectralNorm)} (${largest.name}); product over ${matrices.length} kernels ${fmt(product)}`);
  }
  row('Hessian-vector products', String(h.hvps));
  row('time', `${report.timings.total.toFixed(2)} s on ${report.tool.backend}${report.tool.device ? ` (${report.tool.device}, ${report.tool.threads} thread${report.tool.threads === 1 ? '' : 's'})` : ''}`);
  if (report.tool.peakMemoryBytes !== undefined) row('peak memory', `${(report.tool.peakMemoryBytes / 2 ** 20).toFixed(0)} MiB resident`);
  return lines.join('\n');
}

/** How the trace was estimated and what it cost, in words. */
export function traceCost(trace: TraceReport): string {
  if (trace.method === 'exact') return 'exact: a piecewise-linear network, whose Hessian diagonal is the Gauss–Newton one; no Hessian-vector products';
  if (trace.method !== 'deflated') return `Hutchinson, ${trace.samples} probes per ${trace.method === 'blocks' ? 'weight tensor' : 'run'}`;
  const relative = trace.estimate !== 0 ? `${((100 * trace.stderr) / Math.abs(trace.estimate)).toFixed(2)}%` : 'n/a';
  const target = trace.tolerance !== undefined ? `, target ${+(100 * trace.tolerance).toFixed(2)}%${trace.reachedTolerance === false ? ' not reached' : ''}` : '';
  const why = trace.exactUnavailable ? `; not exact: ${trace.exactUnavailable}` : '';
  return `deflated Hutchinson: exact on ${trace.deflation?.dimensions ?? 0} Lanczos directions + ${trace.samples} probes, ${trace.products ?? trace.samples} products; error ${relative}${target}${why}`;
}

/** The values the restarts of a search reached, lowest to highest. */
function restartRange(values: readonly number[]): string {
  if (values.length === 0) return 'none';
  const low = Math.min(...values);
  const high = Math.max(...values);
  return low === high ? `all ${fmt(high)}` : `${fmt(low)} to ${fmt(high)}`;
}
