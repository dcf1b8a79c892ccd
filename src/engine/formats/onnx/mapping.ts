/**
 * What the ONNX operator handlers (operators/) share while a graph is mapped onto the engine's
 * channels-last Keras layers: the values computed so far, the layers and weights made, and the
 * helpers one node's handler uses to read its inputs and attributes and to fail naming the node.
 */
import type { WeightTensor } from '../../model/spec';
import type { IntTensor } from './constantFolding';
import type { WeightLayout } from './layouts';
import type { AttributeValue, OnnxNode, OnnxTensor } from './proto';

export type Value =
  /** ONNX [N, C, H, W]; engine [N, H, W, C], or [N, C] when `squeezed` (after global pooling, H = W = 1). */
  | { readonly kind: 'image'; readonly layer: string; readonly c: number; readonly h: number; readonly w: number; readonly squeezed?: boolean; readonly nonNegative?: boolean }
  /** ONNX [N, F]; engine [N, F]. With `chw`, ONNX feature order is CHW and the engine's is HWC. */
  | { readonly kind: 'features'; readonly layer: string; readonly size: number; readonly chw?: readonly [number, number, number]; readonly nonNegative?: boolean }
  /**
   * Any other tensor (a feature map moved channels-last, tokens [N, T, D], attention heads): the engine
   * holds [N, ...engine]; ONNX axis i merges the engine axes `axes[i]` (axis 0 is the batch; an empty
   * list is an axis of size 1). tensorLayout.ts.
   */
  | { readonly kind: 'tensor'; readonly layer: string; readonly engine: readonly number[]; readonly axes: readonly (readonly number[])[]; readonly nonNegative?: boolean };

export type ImageValue = Extract<Value, { kind: 'image' }>;
export type FeaturesValue = Extract<Value, { kind: 'features' }>;
export type TensorValue = Extract<Value, { kind: 'tensor' }>;

/** Values per sample. */
export function valueSize(v: Value): number {
  if (v.kind === 'image') return v.c * v.h * v.w;
  if (v.kind === 'features') return v.size;
  return v.engine.reduce((a, b) => a * b, 1);
}

/**
 * An image value seen by a Reshape as [N, groups, C/groups, H, W], and after a Transpose [0, 2, 1, 3, 4]
 * as [N, C/groups, groups, H, W]: the middle of a channel shuffle, which its Reshape back to
 * [N, C, H, W] makes one layer.
 */
export interface ChannelGroupsView {
  readonly source: ImageValue;
  readonly groups: number;
  readonly transposed: boolean;
}

/** A layer under construction (bias fusion edits its config). */
export interface MutableLayer {
  name: string;
  className: string;
  config: Record<string, unknown>;
  inbound: string[];
}

/** Where an engine weight's values came from, for the writer. */
export interface OnnxWeightSource {
  readonly initializer: string;
  readonly dims: readonly number[];
  readonly layout: WeightLayout;
}

export interface MappedWeight {
  readonly tensor: OnnxTensor;
  readonly weight: Omit<WeightTensor, 'values'>;
  readonly source: OnnxWeightSource;
}

export interface AttributeReader {
  int(name: string, fallback: number): number;
  float(name: string, fallback: number): number;
  ints(name: string, fallback: number[]): number[];
  string(name: string, fallback: string): string;
}

/** The graph-wide state of one mapping. */
export interface GraphMapping {
  readonly file: string;
  readonly opset: number;
  readonly initializers: Map<string, OnnxTensor>;
  readonly constants: Map<string, OnnxTensor>;
  readonly values: Map<string, Value>;
  /** How many nodes (and graph outputs) read each tensor. */
  readonly consumers: ReadonlyMap<string, number>;
  /** Tensors in the middle of a channel shuffle (tensor name → view), read only by its Transpose and Reshape. */
  readonly channelGroups: Map<string, ChannelGroupsView>;
  /** Dense layers made from MatMul without a bias yet: output tensor → layer. */
  readonly biasless: Map<string, MutableLayer>;
  readonly notes: string[];
  /** The engine's input layer (what a parameter broadcast over the batch reads its batch size from). */
  readonly inputLayer: string;
  readNumbers(tensor: OnnxTensor): number[];
  /** A known integer tensor: an int constant, or a shape or pad computed from constants. */
  intOf(name: string | undefined): IntTensor | undefined;
  addLayer(base: string, className: string, config: Record<string, unknown>, inbound: string[]): MutableLayer;
}

/** One node being mapped: its inputs, attributes and outputs, and failures that name it. */
export interface NodeMapping {
  readonly node: OnnxNode;
  /** The node's name, or `<op>_<index>` when it has none. */
  readonly label: string;
  readonly graph: GraphMapping;
  readonly attr: AttributeReader;
  fail(problem: string): never;
  valueOf(i: number): Value;
  /** Input i as an initializer (a weight); fails naming `role` otherwise. */
  constantInput(i: number, role: string): OnnxTensor;
  addWeight(layer: MutableLayer, role: string, tensor: OnnxTensor, layout: WeightLayout, shape: number[], trainable?: boolean): void;
  output(v: Value): void;
  /** A one-input layer with the input's shape. */
  elementwise(className: string, config: Record<string, unknown>, nonNegative?: boolean): MutableLayer;
  needImage(v: Value): ImageValue;
  needFeatures(v: Value): FeaturesValue;
}

/** Maps one node of an operator type. */
export type OperatorHandler = (n: NodeMapping) => void;

export function attributeReader(node: OnnxNode, fail: (problem: string) => never): AttributeReader {
  const get = <K extends AttributeValue['kind']>(name: string, kind: K): Extract<AttributeValue, { kind: K }> | undefined => {
    const value = node.attributes.get(name);
    if (value === undefined) return undefined;
    if (value.kind !== kind) fail(`attribute '${name}' should be of type ${kind}, found ${value.kind}`);
    return value as Extract<AttributeValue, { kind: K }>;
  };
  return {
    int: (name, fallback) => get(name, 'int')?.value ?? fallback,
    float: (name, fallback) => get(name, 'float')?.value ?? fallback,
    ints: (name, fallback) => get(name, 'ints')?.value ?? fallback,
    string: (name, fallback) => get(name, 'string')?.value ?? fallback,
  };
}
