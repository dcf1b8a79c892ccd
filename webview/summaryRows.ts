import type { FlatnessReport, TraceReport } from '../src/protocol/report';

/** Which metric a row shows; the compare view aligns checkpoints by it and highlights the sharpness rows. */
export type SummaryKey =
  | 'loss'
  | 'accuracy'
  | 'gradient-norm'
  | 'lambda-max'
  | 'top-eigenvalues'
  | 'trace'
  | 'density-support'
  | 'epsilon-sharpness'
  | 'subspace-sharpness'
  | 'volume-log'
  | 'volume-radii'
  | 'min-orbit-trace'
  | 'adaptive-sharpness'
  | 'fisher-rao'
  | 'hvps';

export interface SummaryRow {
  readonly key: SummaryKey;
  readonly metric: string;
  /** The formatted value, with "± error" where the estimate has one. */
  readonly value: string;
  readonly definition: string;
}

/** The rows whose numbers a function-preserving rescaling changes (Dinh et al. 2017): highlighted in the compare view. */
export const reparametrizationSensitiveKeys: ReadonlySet<SummaryKey> = new Set(['gradient-norm', 'lambda-max', 'top-eigenvalues', 'trace', 'density-support', 'epsilon-sharpness', 'subspace-sharpness', 'volume-log', 'volume-radii']);

export function formatNumber(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (v === Number.POSITIVE_INFINITY) return '∞';
  if (v === Number.NEGATIVE_INFINITY) return '−∞';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(digits - 1);
  const fixed = v.toPrecision(digits);
  // toPrecision writes 196 to 2 digits as "2.0e+2"; below 1e5 a rounded plain number ("200") reads better.
  return fixed.includes('e') ? String(Number(fixed)) : fixed;
}

/** "value ± error" with non-breaking spaces, so the pair never wraps apart. */
export function withError(value: number, error: number | undefined, digits = 4): string {
  return error === undefined ? formatNumber(value, digits) : `${formatNumber(value, digits)}\u00a0±\u00a0${formatNumber(error, 2)}`;
}

/** Every metric of a report as a table row with its error bar and a one-line definition. */
export function summaryRows(report: FlatnessReport): SummaryRow[] {
  const rows: SummaryRow[] = [];
  const add = (key: SummaryKey, metric: string, value: string, definition: string) => rows.push({ key, metric, value, definition });
  add('loss', 'Loss', formatNumber(report.loss, 6), `mean ${report.data.loss} over ${report.data.samples} samples: ${report.data.lossDefinition} (chosen by the ${report.data.lossFrom}); every Hessian is of this mean`);
  if (report.accuracy !== null) add('accuracy', 'Accuracy', `${(report.accuracy * 100).toFixed(2)}%`, 'fraction of samples whose predicted class is the label');
  add('gradient-norm', 'Gradient norm ‖∇L‖', formatNumber(report.gradientNorm), 'Euclidean norm of the gradient of the mean loss; near 0 at a minimum, where the Hessian describes the curvature');
  const h = report.hessian;
  const eigenvalues = h.topEigenvalues;
  if (eigenvalues && eigenvalues.length > 0) {
    const residuals = h.eigenvalueResiduals ?? [];
    const lambdaMax = eigenvalues[0]!;
    const residual = residuals[0];
    add('lambda-max', 'Top eigenvalue λ_max', withError(lambdaMax, residual === undefined ? undefined : residual * Math.abs(lambdaMax)), 'largest eigenvalue of the Hessian (Lanczos); ± the residual ‖Hv − λv‖, which bounds the distance to a true eigenvalue');
    add('top-eigenvalues', `Top ${eigenvalues.length} eigenvalues`, eigenvalues.map((v) => formatNumber(v)).join(', '), `Lanczos, ${h.lanczosSteps ?? '?'} steps; largest relative residual ‖Hv − λv‖/|λ| = ${formatNumber(Math.max(...(residuals.length > 0 ? residuals : [0])), 2)}`);
  }
  if (h.trace) {
    add('trace', 'Trace Tr H', withError(h.trace.estimate, h.trace.method === 'exact' ? undefined : h.trace.stderr), traceDescription(h.trace));
  }
  if (h.density && h.density.nodes.length > 0) {
    add('density-support', 'Spectral density support', `[${formatNumber(Math.min(...h.density.nodes))}, ${formatNumber(Math.max(...h.density.nodes))}]`, `range of the Gauss-quadrature nodes of stochastic Lanczos quadrature, ${densityRuns(h.density)} (Ghorbani et al. 2019)`);
  }
  const s = report.sharpness;
  if (s) {
    add('epsilon-sharpness', `ε-sharpness (ε = ${s.epsilon})`, formatNumber(s.fullSpace), `max over ‖θ′−θ‖ ≤ ε of (L(θ′) − L(θ))/(1 + L(θ)), projected gradient ascent: the best of ${s.restarts} restarts, a lower bound${restartSpread(s.fullSpaceRestarts)}`);
    add('subspace-sharpness', `ε-sharpness, ${s.subspace.dim}-dim subspace`, formatNumber(s.subspace.value), `the same maximum within a random subspace (Keskar et al. 2017)${restartSpread(s.subspace.restartValues)}`);
  }
  const v = report.volumeFlatness;
  if (v) {
    add('volume-log', `Volume ε-flatness (ε = ${v.epsilon})`, `log-volume ${withError(v.logVolume, v.logVolumeStderr)}`, `log of the volume of the region where L stays below L + ε, from the radii along ${v.directions} random directions (Hochreiter & Schmidhuber 1997)${volumeErrorNote(v)}`);
    add('volume-radii', 'ε-flat radii (min / median / max)', `${formatNumber(v.radiusMin, 3)} / ${formatNumber(v.radiusMedian, 3)} / ${formatNumber(v.radiusMax, 3)}`, `radius where L first exceeds L + ε along each direction; ${(v.escapedFraction * 100).toFixed(0)}% never leave the band up to the cap ${formatNumber(v.cap)}`);
  }
  const inv = report.invariant;
  if (inv?.minTraceOverLayerScaling) {
    const m = inv.minTraceOverLayerScaling;
    add('min-orbit-trace', 'Min trace over α-orbit', m.unbounded ? 'unbounded (→ 0)' : `${formatNumber(m.value)} (this network: ${formatNumber(m.current)})`, `smallest Σ Tr H_kk/α_k² over function-preserving layer scalings (${m.degreesOfFreedom} free); invariant under those scalings`);
  }
  if (inv) {
    add('adaptive-sharpness', `Adaptive sharpness (ρ = ${inv.adaptiveSharpness.rho})`, formatNumber(inv.adaptiveSharpness.value), `ASAM: max over ‖δ/(|θ|+η)‖ ≤ ρ of L(θ+δ) − L(θ), η = ${inv.adaptiveSharpness.eta} (Kwon et al. 2021)`);
    add('fisher-rao', 'Fisher–Rao norm', formatNumber(inv.fisherRaoNorm), 'sqrt of mean ⟨θ, ∇ℓ_i⟩² (Liang et al. 2019); invariant under layer rescalings');
  }
  add('hvps', 'Hessian-vector products', h.hvps.toLocaleString('en-US'), 'exact Hessian-vector products used by the whole analysis (the cost)');
  return rows;
}

function traceDescription(trace: TraceReport): string {
  if (trace.method === 'exact') return 'exact: in a piecewise-linear network (ReLU, max pooling, affine layers) the Hessian\'s diagonal equals the Gauss–Newton matrix\'s, summed here over every sample and output; no sampling error';
  if (trace.method === 'blocks') return `sum of per-tensor Hutchinson estimates, ${trace.samples} Rademacher probes per weight tensor; ± one standard error`;
  if (trace.method === 'joint') return `Hutchinson, ${trace.samples} Rademacher probes over all parameters; ± one standard error`;
  const relative = trace.estimate !== 0 ? `${formatNumber((100 * trace.stderr) / Math.abs(trace.estimate), 2)}%` : 'n/a';
  const target = trace.tolerance === undefined ? '' : `, target ${formatNumber(100 * trace.tolerance, 2)}%${trace.reachedTolerance === false ? ' (not reached within the probe cap)' : ''}`;
  const why = trace.exactUnavailable ? `; not computed exactly because ${trace.exactUnavailable}` : '';
  return `deflated Hutchinson: exact on the ${trace.deflation?.dimensions ?? 0} Lanczos directions (${formatNumber(trace.deflation?.trace ?? 0)}) plus ${trace.samples} Rademacher probes of the rest; ${trace.products ?? trace.samples} Hessian-vector products; ± one standard error (${relative}${target})${why}`;
}

function densityRuns(density: NonNullable<FlatnessReport['hessian']['density']>): string {
  const reused = density.reusedRuns ?? 0;
  if (reused === 0 || !density.stepsPerRun) return `${density.runs} runs × ${density.steps} steps`;
  return `${density.runs} runs (${reused} reused from the eigenvalues' Lanczos run) of ${density.stepsPerRun.join(', ')} steps`;
}

/** What each restart of a sharpness search reached: how much the result depends on where it starts (not a confidence interval). */
function restartSpread(values: readonly number[] | undefined): string {
  if (!values || values.length < 2) return '';
  const low = Math.min(...values);
  const high = Math.max(...values);
  return low === high ? `; every restart reached ${formatNumber(high)}` : `; the restarts reached ${formatNumber(low)} to ${formatNumber(high)}`;
}

/** What the log-volume's error bar is. */
function volumeErrorNote(v: { readonly logVolumeStderr?: number; readonly directions: number }): string {
  return v.logVolumeStderr === undefined ? '' : `; ± one standard error over the ${v.directions} directions, from a normal model of n·log r that also counts the long radii the directions missed`;
}
