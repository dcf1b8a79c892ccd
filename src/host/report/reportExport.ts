import * as path from 'node:path';
import * as vscode from 'vscode';
import { isWeightsReport, type AnyReport, type TensorStatistics } from '../../protocol/report';
import { FileProblem } from '../../protocol/errors';
import { escapeControlCharacters } from '../../protocol/safeText';
import { checkOutputs } from '../../engine/io/outputGuard';
import { replaceFilesAtomically } from '../../engine/io/atomicWrite';

/** One row per tensor: its statistics. */
export function tensorCsv(tensors: readonly TensorStatistics[]): string {
  const header = 'tensor,shape,dtype,count,non_finite,mean,std,max_abs,frobenius_norm,spectral_norm,stable_rank';
  const cell = (v: number | undefined) => (v === undefined ? '' : String(v));
  const rows = tensors.map((t) =>
    [JSON.stringify(t.name), JSON.stringify(t.shape.join('x')), t.dtype ?? 'float32', t.count, t.nonFinite, t.mean, t.std, t.maxAbs, t.l2Norm, cell(t.matrix?.spectralNorm), cell(t.matrix?.stableRank)].join(','),
  );
  return [header, ...rows].join('\n') + '\n';
}

/** The report's scalar metrics as CSV rows: metric,value,stderr; for a weights-only report, the tensor statistics. */
export function reportCsv(report: AnyReport): string {
  if (isWeightsReport(report)) return tensorCsv(report.tensors);
  const rows: [string, number | null | undefined, number | undefined][] = [
    ['loss', report.loss, undefined],
    ['accuracy', report.accuracy, undefined],
    ['gradient_norm', report.gradientNorm, undefined],
    ...(report.hessian.topEigenvalues ?? []).map((v, i) => [`eigenvalue_${i + 1}`, v, undefined] as [string, number, undefined]),
    ['trace', report.hessian.trace?.estimate, report.hessian.trace?.stderr],
    ...(report.hessian.blockTraces ?? []).map((b) => [`block_trace:${b.name}`, b.trace, b.stderr] as [string, number, number]),
    ['epsilon_sharpness', report.sharpness?.fullSpace, undefined],
    ['epsilon_sharpness_subspace', report.sharpness?.subspace.value, undefined],
    ['volume_log', report.volumeFlatness?.logVolume, report.volumeFlatness?.logVolumeStderr],
    ['volume_escaped_fraction', report.volumeFlatness?.escapedFraction, undefined],
    ['min_trace_over_alpha_orbit', report.invariant?.minTraceOverLayerScaling?.value, undefined],
    ['adaptive_sharpness', report.invariant?.adaptiveSharpness.value, undefined],
    ['fisher_rao_norm', report.invariant?.fisherRaoNorm, undefined],
    ...(report.tensors ?? []).flatMap((t) => (t.matrix ? [[`spectral_norm:${t.name}`, t.matrix.spectralNorm, undefined] as [string, number, undefined]] : [])),
  ];
  const cell = (v: number | null | undefined) => (v === undefined || v === null ? '' : String(v));
  return ['metric,value,stderr', ...rows.filter(([, v]) => v !== undefined).map(([m, v, e]) => `${JSON.stringify(m)},${cell(v)},${cell(e)}`)].join('\n') + '\n';
}

/**
 * Asks where to save and writes the file; never writes without the user's choice. A target that
 * is one of `inputs` (the checkpoint, its data) is refused; an existing file is replaced only after
 * a modal "Replace?" confirmation. The write is atomic (temporary file, then rename).
 */
export async function saveWithDialog(defaultPath: string, filters: Record<string, string[]>, data: Uint8Array | string, inputs: readonly string[] = []): Promise<void> {
  const target = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(defaultPath), filters });
  if (!target) return;
  const file = target.fsPath;
  const name = escapeControlCharacters(path.basename(file), false);
  try {
    checkOutputs([file], { inputs, force: false, howToForce: 'confirm' });
  } catch (error) {
    const refusal = error instanceof FileProblem ? error.problem : String(error);
    if (!(error instanceof FileProblem) || !refusal.startsWith('already exists')) {
      void vscode.window.showErrorMessage(`Flatness Lens: not saved: ${name} ${escapeControlCharacters(refusal)}`);
      return;
    }
    const replace = await vscode.window.showWarningMessage(`${name} already exists. Replace it?`, { modal: true }, 'Replace');
    if (replace !== 'Replace') return;
    checkOutputs([file], { inputs, force: true });
  }
  await replaceFilesAtomically([{ path: file, data: typeof data === 'string' ? Buffer.from(data, 'utf8') : data }]);
  void vscode.window.showInformationMessage(`Flatness Lens: saved ${name}`);
}
