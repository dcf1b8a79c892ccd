import * as tf from '@tensorflow/tfjs-core';
import { ModelProblem } from '../../protocol/errors';
import { canonicalActivation } from './activations';
import { requireKnownInputShape } from './inputShape';
import { layerImplementation, passThroughLayers } from './layers';
import { sizeOf, type Checkpoint, type LayerNode, type Shape, type WeightTensor } from './spec';

/** A trainable weight tensor's place in the flat parameter vector θ. */
export interface ParameterInfo {
  readonly name: string;
  readonly layer: string;
  readonly role: string;
  readonly shape: Shape;
  readonly size: number;
  readonly offset: number;
}

/** What the network's output layer applies last; the loss works on the values before it. */
export type OutputHead = 'softmax' | 'sigmoid' | 'none';

/**
 * The function a checkpoint computes, as a pure function of its trainable weights:
 * forward(θ, x). Non-trainable weights (BatchNorm statistics) are constants owned by this object.
 */
export class NetworkFunction {
  readonly parameters: readonly ParameterInfo[];
  readonly parameterCount: number;
  readonly inputShape: Shape;
  readonly outputHead: OutputHead;
  private readonly constants = new Map<string, tf.Tensor>();
  private readonly weightIndex = new Map<string, Map<string, { trainable: boolean; index: number; name: string }>>();
  private readonly layers: readonly LayerNode[];
  private readonly outputName: string;

  constructor(readonly checkpoint: Checkpoint) {
    const { model } = checkpoint;
    requireKnownInputShape(checkpoint);
    if (model.inputs.length !== 1) throw new ModelProblem(model.inputs.map((i) => i.name).join(', ') || '(none)', `models with ${model.inputs.length} inputs are not supported (one input only)`);
    if (model.outputs.length !== 1) throw new ModelProblem(model.outputs.join(', ') || '(none)', `models with ${model.outputs.length} outputs are not supported (one output only)`);
    this.inputShape = model.inputs[0].shape;
    this.layers = model.layers;
    this.outputName = model.outputs[0];
    for (const node of this.layers) layerImplementation(node);
    const parameters: ParameterInfo[] = [];
    let offset = 0;
    checkpoint.weights.forEach((w) => {
      const entry = { trainable: w.trainable, index: w.trainable ? parameters.length : -1, name: w.name };
      for (const use of [{ layer: w.layer, role: w.role }, ...(w.alsoUsedBy ?? [])]) {
        let byRole = this.weightIndex.get(use.layer);
        if (!byRole) this.weightIndex.set(use.layer, (byRole = new Map()));
        byRole.set(use.role, entry);
      }
      if (w.trainable) {
        const size = sizeOf(w.shape);
        parameters.push({ name: w.name, layer: w.layer, role: w.role, shape: w.shape, size, offset });
        offset += size;
      } else {
        this.constants.set(w.name, tf.tensor(w.values, [...w.shape], 'float32'));
      }
    });
    this.parameters = parameters;
    this.parameterCount = offset;
    this.outputHead = this.findOutputHead();
  }

  private outputSize: number | undefined;

  /** Number of outputs per sample (computed once, by one forward pass on a zero input). */
  get outputUnits(): number {
    this.outputSize ??= tf.tidy(() => this.forward(this.initialParameters(), tf.zeros([1, ...this.inputShape])).size);
    return this.outputSize;
  }

  /** The stored values of the trainable weights, in parameter order: the checkpoint's own arrays, not copies (never write to them). */
  storedParameterValues(): readonly Float32Array[] {
    const byName = new Map<string, WeightTensor>(this.checkpoint.weights.map((w) => [w.name, w]));
    return this.parameters.map((p) => byName.get(p.name)!.values);
  }

  /** The stored values of the trainable weights, as new tensors (the caller disposes them). */
  initialParameters(): tf.Tensor[] {
    const byName = new Map<string, WeightTensor>(this.checkpoint.weights.map((w) => [w.name, w]));
    return this.parameters.map((p) => tf.tensor(byName.get(p.name)!.values, [...p.shape], 'float32'));
  }

  /**
   * The network's output for a batch x [N, ...inputShape]. With `logits`, the output layer's final
   * softmax or sigmoid is left out (the loss applies it in a numerically stable form).
   */
  forward(params: readonly tf.Tensor[], x: tf.Tensor, options: { logits?: boolean } = {}): tf.Tensor {
    const outputs = new Map<string, tf.Tensor>();
    for (const node of this.layers) {
      const inputs = node.inbound.length === 0 ? [x] : node.inbound.map((name) => outputs.get(name)!);
      const weights = this.weightIndex.get(node.name);
      const call = {
        node,
        inputs,
        withoutActivation: options.logits === true && node.name === this.outputName && this.outputHead !== 'none',
        weight: (role: string) => {
          const entry = weights?.get(role);
          if (!entry) return undefined;
          return entry.trainable ? params[entry.index] : this.constants.get(entry.name);
        },
      };
      outputs.set(node.name, layerImplementation(node)(call));
    }
    return outputs.get(this.outputName)!;
  }

  dispose(): void {
    for (const t of this.constants.values()) t.dispose();
    this.constants.clear();
  }

  private findOutputHead(): OutputHead {
    const node = this.layers.find((l) => l.name === this.outputName)!;
    const lastAxis = node.config.axis === undefined || node.config.axis === -1;
    if (node.className === 'Softmax' && !lastAxis) return 'none';
    const activation = node.className === 'Softmax' ? 'softmax' : canonicalActivation(node.config.activation);
    const appliesActivation = ['Dense', 'Conv2D', 'DepthwiseConv2D', 'Activation', 'Softmax'].includes(node.className);
    if (appliesActivation && (activation === 'softmax' || activation === 'sigmoid')) return activation;
    return 'none';
  }

  /** Layers that only pass values on, for describing the model. */
  static isPassThrough(node: LayerNode): boolean {
    return passThroughLayers.has(node.className);
  }
}
