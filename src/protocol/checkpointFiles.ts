/** File extensions (lower case, no dot) a checkpoint's main file may have: what the editor searches for. */
export const checkpointExtensions = ['json', 'onnx', 'h5', 'hdf5', 'keras', 'safetensors', 'pt', 'pth', 'npz'] as const;

/** What the analyzer process tells the host about one file of the workspace, for listing it. */
export type CheckpointDescription =
  | {
      readonly kind: 'checkpoint';
      /** Registry id of the format, e.g. `tfjs-layers`. */
      readonly format: string;
      /** Weights without an architecture of their own (safetensors, .pt, .npz). */
      readonly weightsOnly: boolean;
      readonly parameters: number;
      /** Every file the checkpoint consists of (the named file first). */
      readonly files: readonly string[];
      /** sha256 over the contents of `files`, when asked for (it reads every byte). */
      readonly contentHash?: string;
    }
  | {
      /** No format recognizes the file (by name and first bytes). */
      readonly kind: 'not-a-checkpoint';
      readonly reason: string;
    };

export interface DescribeRequest {
  readonly checkpoint: string;
  /** Also hash every file of the checkpoint (for the result cache and staleness). */
  readonly contentHash: boolean;
}
