import type { AnalysisProgress, AnyReport, FlatnessReport } from './report';
import type { TrajectoryReport } from './trajectory';

/**
 * Messages between the extension host and the report/compare webviews. The webview starts with
 * `report/ready` (or `compare/ready`) and gets its state in reply; every message the host receives
 * is checked with `isFromWebviewMessage` before use.
 */

/** Two checkpoints that compute the same function, as measured on the same inputs. */
export interface Equivalence {
  /** Indices into `reports`. */
  readonly a: number;
  readonly b: number;
  /** max |f_a(x) − f_b(x)| / max |f_a(x)| over the data set used by both reports. */
  readonly maxOutputDeviation: number;
  readonly samples: number;
}

export type ToWebviewMessage =
  | { readonly type: 'report/show'; readonly report: AnyReport; readonly stale: boolean }
  | { readonly type: 'report/progress'; readonly progress: AnalysisProgress }
  | { readonly type: 'report/failed'; readonly message: string }
  | { readonly type: 'compare/show'; readonly reports: readonly FlatnessReport[]; readonly equivalences: readonly Equivalence[] }
  /** The training run so far; `running` while points are still being analyzed. */
  | { readonly type: 'trajectory/show'; readonly trajectory: TrajectoryReport; readonly running: boolean };

export type ExportFormat = 'json' | 'csv' | 'html';

export type FromWebviewMessage =
  | { readonly type: 'report/ready' }
  | { readonly type: 'report/rerun' }
  | { readonly type: 'report/rescale'; readonly mode: 'flatten' | 'sharpen' }
  /** Stop the analysis this panel is showing progress for. */
  | { readonly type: 'report/cancel' }
  /** Open the report of the checkpoint this rescaled one was made from. */
  | { readonly type: 'report/openOriginal' }
  | { readonly type: 'report/export'; readonly format: ExportFormat }
  /** A chart as a PNG data URL (data:image/png;base64,...), to be saved where the user chooses. */
  | { readonly type: 'report/exportChart'; readonly chart: string; readonly dataUrl: string }
  | { readonly type: 'compare/ready' }
  | { readonly type: 'trajectory/ready' }
  /** Open the report of the run's checkpoint at this step. */
  | { readonly type: 'trajectory/openPoint'; readonly step: number }
  | { readonly type: 'trajectory/export'; readonly format: 'json' | 'csv' };

const pngDataUrl = /^data:image\/png;base64,[A-Za-z0-9+/=]+$/;

export function isFromWebviewMessage(value: unknown): value is FromWebviewMessage {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  switch (m.type) {
    case 'report/ready':
    case 'report/rerun':
    case 'report/cancel':
    case 'report/openOriginal':
    case 'compare/ready':
    case 'trajectory/ready':
      return true;
    case 'trajectory/openPoint':
      return typeof m.step === 'number' && Number.isFinite(m.step);
    case 'trajectory/export':
      return m.format === 'json' || m.format === 'csv';
    case 'report/rescale':
      return m.mode === 'flatten' || m.mode === 'sharpen';
    case 'report/export':
      return m.format === 'json' || m.format === 'csv' || m.format === 'html';
    case 'report/exportChart':
      return typeof m.chart === 'string' && /^[a-z0-9-]{1,40}$/.test(m.chart) && typeof m.dataUrl === 'string' && m.dataUrl.length < 20_000_000 && pngDataUrl.test(m.dataUrl);
    default:
      return false;
  }
}
