import type { AnalysisRequest, InputRequest, RescaleRequest } from './requests';
import { toAnalyzerMessageProblem } from './messageValidation';
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

/** Which of these files could feed this model: a quick look at each, for the data-set picker. */
export interface DataCandidatesRequest {
  readonly model: Pick<InputRequest, 'checkpoint' | 'architecture' | 'inputShape'>;
  readonly files: readonly string[];
}

export interface DataCandidate {
  readonly file: string;
  /** true: a data loader reads it and its samples have the model's input size; false: not (see reason); null: not known without loading it. */
  readonly fits: boolean | null;
  readonly reason?: string;
}

export interface DataCandidates {
  /** The model's input shape per sample; null when the file leaves a dimension open. */
  readonly inputShape: readonly number[] | null;
  readonly candidates: readonly DataCandidate[];
}

/** Messages the extension host sends to the background analyzer process. */
export type ToAnalyzerMessage =
  | { readonly type: 'analyze'; readonly id: number; readonly request: AnalysisRequest }
  | { readonly type: 'rescale'; readonly id: number; readonly request: RescaleRequest; readonly out?: string }
  | { readonly type: 'compareOutputs'; readonly id: number; readonly request: FunctionComparisonRequest }
  | { readonly type: 'dataCandidates'; readonly id: number; readonly request: DataCandidatesRequest }
  | { readonly type: 'describe'; readonly id: number; readonly request: DescribeRequest }
  | { readonly type: 'cancel'; readonly id: number };

export type JobResult =
  | { readonly kind: 'analysis'; readonly report: AnyReport }
  | { readonly kind: 'rescale'; readonly report: RescaleReport }
  | { readonly kind: 'comparison'; readonly comparison: FunctionComparison }
  | { readonly kind: 'dataCandidates'; readonly candidates: DataCandidates }
  | { readonly kind: 'description'; readonly description: CheckpointDescription };

/** Messages the analyzer process sends back. */
export type FromAnalyzerMessage =
  | { readonly type: 'ready'; readonly pid: number }
  | { readonly type: 'progress'; readonly id: number; readonly progress: AnalysisProgress }
  | { readonly type: 'result'; readonly id: number; readonly result: JobResult }
  | { readonly type: 'failed'; readonly id: number; readonly kind: FailureKind; readonly message: string };

export type JobMessage = Exclude<ToAnalyzerMessage, { type: 'cancel' }>;

/** True when `value` is a well-formed message (see messageValidation.ts for the problem it has otherwise). */
export function isToAnalyzerMessage(value: unknown): value is ToAnalyzerMessage {
  return toAnalyzerMessageProblem(value) === undefined;
}
