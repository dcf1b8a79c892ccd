import * as path from 'node:path';
import type { RescalePlan } from '../engine/rescale/plan';
import { summarizeBarriers, type RescaleReport } from '../protocol/rescaleResult';

export function rescaleReport(plan: RescalePlan, files: string[]): RescaleReport {
  return {
    source: plan.checkpoint.path,
    out: files[0],
    files,
    mode: plan.request.mode,
    objective: plan.request.objective ?? 'trace',
    granularity: plan.request.granularity ?? 'layer',
    symmetry: plan.symmetry,
    factors: plan.factors,
    maxOutputDeviation: plan.maxOutputDeviation,
    before: plan.before,
    after: plan.after,
    predicted: plan.predicted,
    data: plan.data,
    notes: plan.notes,
    barriers: plan.barriers,
  };
}

const fmt = (v: number | undefined) => (v === undefined ? '—' : Math.abs(v) >= 1e5 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : v.toPrecision(4));

export function formatRescaleSummary(report: RescaleReport): string {
  const lines = [`Rescaled ${path.basename(report.source)} → ${report.out}`];
  const row = (label: string, value: string) => lines.push(`  ${label.padEnd(26)} ${value}`);
  row('symmetry', report.symmetry);
  row('mode', `${report.mode} (${report.objective}, per ${report.granularity})`);
  const factors = report.factors.map((f) => (f.alpha !== undefined ? `${f.layer}=${fmt(f.alpha)}` : f.unitScaleMin !== undefined ? `${f.layer}∈[${fmt(f.unitScaleMin)}, ${fmt(f.unitScaleMax)}]` : undefined)).filter(Boolean);
  row('factors', factors.join(', '));
  row('same function', `max |Δ output| / max |output| = ${report.maxOutputDeviation.toExponential(2)} on ${report.data.samples} ${report.data.dataFree ? 'probe inputs' : 'samples'}`);
  row('trace before → after', `${fmt(report.before.trace)} → ${fmt(report.after.trace)}${report.predicted.trace !== undefined ? ` (predicted ${fmt(report.predicted.trace)})` : ''}`);
  row('top eigenvalue before → after', `${fmt(report.before.topEigenvalue)} → ${fmt(report.after.topEigenvalue)}${report.predicted.topEigenvalue !== undefined ? ` (predicted ${fmt(report.predicted.topEigenvalue)})` : ''}`);
  for (const line of summarizeBarriers(report.barriers ?? [])) row('scale fixed at', line);
  for (const note of report.notes) row('note', note);
  return lines.join('\n');
}
