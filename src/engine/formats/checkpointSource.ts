import type { Checkpoint } from '../model/spec';
import type { KerasH5Source } from './keras/h5Writer';
import type { KerasV3Source } from './keras/kerasV3Writer';
import type { OnnxSource } from './onnx/source';
import type { TfjsLayersSource } from './tfjsLayers/modelJson';
import type { WeightsOnlySource } from './weights/weightsOnlyFormat';

/** A checkpoint built in memory (a test, the example's training script): nothing to reproduce. */
export interface InMemorySource {
  readonly kind: 'none';
}

/** What each format's reader keeps for its writer, one member per format. */
export type CheckpointSource = TfjsLayersSource | OnnxSource | KerasH5Source | KerasV3Source | WeightsOnlySource | InMemorySource;

/** A checkpoint as the registry reads it. */
export type FormatCheckpoint = Checkpoint<CheckpointSource>;
