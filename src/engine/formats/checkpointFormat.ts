import type { Checkpoint, CheckpointSourceTag, WeightTensor } from '../model/spec';

export interface WriteOptions {
  /** Replacement values, with the same names and shapes as the checkpoint's weights. */
  readonly weights?: readonly WeightTensor[];
  /** Provenance to store where the format has room for it. */
  readonly metadata?: Record<string, unknown>;
}

export interface ReadOptions {
  /** For weights-only files: the file that holds the architecture (see weights/weightsOnlyFormat.ts). */
  readonly architecture?: string;
  /** Accept NaN and infinite weights (refused by default, for every format alike). */
  readonly allowNonFinite?: boolean;
}

export interface CheckpointSummary {
  /** Number of stored weight values (trainable or not). */
  readonly parameters: number;
  /** Every file the checkpoint consists of (the named file first): what its content hash covers. */
  readonly files: readonly string[];
}

/** One checkpoint file format: a cheap recognizer, a reader and a writer. `Source` is what `read` keeps for `write`. */
export interface CheckpointFormat<Source extends CheckpointSourceTag = CheckpointSourceTag> {
  readonly id: string;
  readonly displayName: string;
  /** Cheap test on the file name and its first bytes (at most HEAD_BYTES); reads nothing else. */
  match(fileName: string, head: Uint8Array): boolean;
  read(path: string, options?: ReadOptions): Promise<Checkpoint<Source>>;
  /** Writes new files (never overwrites) and returns the paths written. */
  write(checkpoint: Checkpoint, outPath: string, options: WriteOptions): Promise<string[]>;
  /** The files `write(…, outPath, …)` would create, so a caller can pick a free name first. */
  filesWritten(outPath: string): string[];
  /** Cheap facts for listing a checkpoint, without decoding its weights. */
  describe(path: string): Promise<CheckpointSummary>;
}

/** The checkpoint's source when it was read from a file of `kind`, else undefined. */
export function sourceOfKind<Source extends CheckpointSourceTag>(checkpoint: Checkpoint, kind: Source['kind']): Source | undefined {
  return checkpoint.source.kind === kind ? (checkpoint.source as Source) : undefined;
}
