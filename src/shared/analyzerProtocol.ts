import type { AnalysisRequest, InputRequest, RescaleRequest } from './requests';
import type { RescaleReport } from './rescaleResult';
import type { CheckpointDescription, DescribeRequest } from './checkpointFiles';
import type { FailureKind } from './errors';
import type { AnalysisProgress, AnyReport } from './report';

/** Compare two checkpoints' outputs on the same inputs (data set or probes from the first). */
export interface FunctionComparisonRequest {
  readonly first: InputRequest;
  readonly second: string;
}

export interface FunctionComparison {
  /** max |f₁(x) − f₂(x)| / max |f₁(x)| over the inputs; null when the outputs' shapes differ. */
  readonly maxOutputDeviation: number | null;
  readonly samples: number;
}

/** Messages the extension host sends to the background analyzer process. */
export type ToAnalyzerMessage =
  | { readonly type: 'analyze'; readonly id: number; readonly request: AnalysisRequest }
  | { readonly type: 'rescale'; readonly id: number; readonly request: RescaleRequest; readonly out?: string }
  | { readonly type: 'compareOutputs'; readonly id: number; readonly request: FunctionComparisonRequest }
  | { readonly type: 'describe'; readonly id: number; readonly request: DescribeRequest }
  | { readonly type: 'cancel'; readonly id: number };

export type JobResult =
  | { readonly kind: 'analysis'; readonly report: AnyReport }
  | { readonly kind: 'rescale'; readonly report: RescaleReport }
  | { readonly kind: 'comparison'; readonly comparison: FunctionComparison }
  | { readonly kind: 'description'; readonly description: CheckpointDescription };

/** Messages the analyzer process sends back. */
export type FromAnalyzerMessage =
  | { readonly type: 'ready'; readonly pid: number }
  | { readonly type: 'progress'; readonly id: number; readonly progress: AnalysisProgress }
  | { readonly type: 'result'; readonly id: number; readonly result: JobResult }
  | { readonly type: 'failed'; readonly id: number; readonly kind: FailureKind; readonly message: string };

export type JobMessage = Exclude<ToAnalyzerMessage, { type: 'cancel' }>;

export function isToAnalyzerMessage(value: unknown): value is ToAnalyzerMessage {
  if (typeof value !== 'object' || value === null) return false;
  const message = value as { type?: unknown; id?: unknown; request?: unknown };
  if (typeof message.id !== 'number') return false;
  if (message.type === 'cancel') return true;
  const request = message.request as Record<string, unknown> | null | undefined;
  if (typeof request !== 'object' || request === null) return false;
  switch (message.type) {
    case 'analyze':
    case 'rescale':
      return typeof request.checkpoint === 'string';
    case 'describe':
      return typeof request.checkpoint === 'string' && typeof request.contentHash === 'boolean';
    case 'compareOutputs':
      return typeof request.second === 'string' && typeof (request.first as { checkpoint?: unknown } | undefined)?.checkpoint === 'string';
    default:
      return false;
  }
}
