/**
 * The engine's format-independent description of a network: what every format reader produces and
 * every writer consumes. Layer semantics follow Keras (channels-last, HWIO kernels), because the
 * TF.js Layers and Keras formats store exactly this; other formats translate into it.
 */

export type Shape = readonly number[];

/** A further place where a weight is read: the layer and the role it plays there. */
export interface WeightUse {
  readonly layer: string;
  readonly role: string;
}

/** A stored weight tensor. Values are float32, row-major, in the Keras layout for its layer. */
export interface WeightTensor {
  /** Unique name as stored in the file, e.g. `dense_1/kernel`. */
  readonly name: string;
  /** Name of the layer that owns it. */
  readonly layer: string;
  /** Role within the layer: kernel, bias, gamma, beta, moving_mean, moving_variance, alpha, depthwise_kernel. */
  readonly role: string;
  readonly shape: Shape;
  readonly values: Float32Array;
  /** Whether the Hessian is taken with respect to it (BatchNorm moving statistics are not). */
  readonly trainable: boolean;
  /**
   * Other layers that read this same tensor (a file may feed one tensor to several operators). It
   * stays one parameter: its gradient and Hessian block are the sums over all its uses.
   */
  readonly alsoUsedBy?: readonly WeightUse[];
}

/** One call of a layer in the graph. Layers are listed in an order where inputs come first. */
export interface LayerNode {
  readonly name: string;
  /** Keras class name: Dense, Conv2D, InputLayer, Add, ... */
  readonly className: string;
  /** The layer's Keras config, as stored (snake_case keys). */
  readonly config: Readonly<Record<string, unknown>>;
  /** Names of the layers whose outputs feed this one, in argument order. Empty for inputs. */
  readonly inbound: readonly string[];
}

export interface ModelSpec {
  /** Input layers: name and shape without the batch dimension; a dimension the file leaves open is -1 (inputShape.ts). */
  readonly inputs: readonly { readonly name: string; readonly shape: Shape }[];
  /** Every layer, inputs first, each after all of its inbound layers. */
  readonly layers: readonly LayerNode[];
  /** Names of the layers whose outputs are the model's outputs. */
  readonly outputs: readonly string[];
  /** The loss named in the file's training config, if any (e.g. `categorical_crossentropy`). */
  readonly trainingLoss?: string;
  /** The optimizer's learning rate in the file's training config, if it stores one. */
  readonly trainingLearningRate?: number;
}

/**
 * What a reader keeps so its writer can reproduce the file, tagged with the kind of file it came
 * from; src/engine/formats/checkpointSource.ts lists the kinds. `{ kind: 'none' }` for a checkpoint built
 * in memory.
 */
export interface CheckpointSourceTag {
  readonly kind: string;
}

export interface Checkpoint<Source extends CheckpointSourceTag = CheckpointSourceTag> {
  /** Absolute path of the file the checkpoint was read from. */
  readonly path: string;
  /** Registry id of its format, e.g. `tfjs-layers`. */
  readonly format: string;
  readonly model: ModelSpec;
  /** All weights in the file's order. */
  readonly weights: readonly WeightTensor[];
  /** Notes the reader wants the user to see (e.g. "weights were uint8-quantized; dequantized"). */
  readonly notes: readonly string[];
  /** Format-specific fields a writer needs to reproduce the file (e.g. the original model.json). */
  readonly source: Source;
}

/** The weight a layer reads in a role: its own, or one it shares with the layer that stores it. */
export function weightAt(weights: readonly WeightTensor[], layer: string, role: string): WeightTensor | undefined {
  return weights.find((w) => (w.layer === layer && w.role === role) || w.alsoUsedBy?.some((use) => use.layer === layer && use.role === role));
}

/** Number of elements of a shape. */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
