import type { AnalysisRequest } from '../analysis/analyzeFile';
import type { AnalysisProgress, FlatnessReport } from './report';

/** Messages the extension host sends to the background analyzer process. */
export type ToAnalyzerMessage =
  | { readonly type: 'analyze'; readonly id: number; readonly request: AnalysisRequest }
  | { readonly type: 'cancel'; readonly id: number };

/** What kind of failure, so the extension can word it (and retry or not). */
export type FailureKind = 'file' | 'model' | 'cancelled' | 'internal';

/** Messages the analyzer process sends back. */
export type FromAnalyzerMessage =
  | { readonly type: 'ready'; readonly pid: number }
  | { readonly type: 'progress'; readonly id: number; readonly progress: AnalysisProgress }
  | { readonly type: 'result'; readonly id: number; readonly report: FlatnessReport }
  | { readonly type: 'failed'; readonly id: number; readonly kind: FailureKind; readonly message: string };

export function isToAnalyzerMessage(value: unknown): value is ToAnalyzerMessage {
  if (typeof value !== 'object' || value === null) return false;
  const message = value as { type?: unknown; id?: unknown; request?: unknown };
  if (typeof message.id !== 'number') return false;
  if (message.type === 'cancel') return true;
  return message.type === 'analyze' && typeof message.request === 'object' && message.request !== null
    && typeof (message.request as { checkpoint?: unknown }).checkpoint === 'string';
}
