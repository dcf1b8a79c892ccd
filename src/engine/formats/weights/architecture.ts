/**
 * The architecture description that lets a weights-only file (a PyTorch state dict, safetensors,
 * .npz) be analyzed and rescaled: a small JSON file listing a sequential network in PyTorch's terms,
 * with each layer naming its tensors in the weights file (README "Weights-only checkpoints").
 *
 *   { "flatnessLens": "architecture/1", "framework": "pytorch", "input": [1, 28, 28],
 *     "layers": [ { "type": "conv2d", "name": "conv1", "padding": 1 }, { "type": "relu" },
 *                 { "type": "maxpool2d", "kernel": 2 }, { "type": "flatten" },
 *                 { "type": "linear", "weight": "fc.weight", "bias": "fc.bias" } ],
 *     "loss": "ce" }
 *
 * or a pointer to a file that has the architecture (ONNX, Keras, TF.js Layers), whose weights are
 * then replaced by the tensors of the same names:  { "flatnessLens": "architecture/1", "from": "model.onnx" }
 *
 * A description is compiled into the ONNX graph PyTorch would export for it (NCHW, Gemm with
 * transB, OIHW kernels), so one mapping (onnx/graphToSpec.ts) handles layouts for both.
 */
import { DataType, type AttributeValue, type OnnxModel, type OnnxNode, type OnnxTensor, type OnnxValueInfo } from '../onnx/proto';
import { FileProblem } from '../../../protocol/errors';
import type { LossKind } from '../../../protocol/report';
import type { StoredTensor } from './tensorFile';

export const ARCHITECTURE_TAG = 'architecture/1';

export type ArchitectureDescription =
  | { readonly kind: 'layers'; readonly input: readonly number[]; readonly layers: readonly DescribedLayer[]; readonly loss?: LossKind }
  | { readonly kind: 'from'; readonly from: string };

export interface DescribedLayer {
  readonly type: string;
  readonly [key: string]: unknown;
}

/** Layer types a description may use, with the parameters each takes. */
export const describedLayerTypes: Readonly<Record<string, readonly string[]>> = {
  linear: ['name', 'weight', 'bias'],
  conv2d: ['name', 'weight', 'bias', 'stride', 'padding', 'dilation', 'groups'],
  batchnorm1d: ['name', 'weight', 'bias', 'running_mean', 'running_var', 'eps'],
  batchnorm2d: ['name', 'weight', 'bias', 'running_mean', 'running_var', 'eps'],
  relu: [],
  leaky_relu: ['negative_slope'],
  elu: ['alpha'],
  sigmoid: [],
  tanh: [],
  softmax: [],
  maxpool2d: ['kernel', 'stride', 'padding'],
  avgpool2d: ['kernel', 'stride', 'padding'],
  global_avgpool2d: [],
  flatten: [],
  dropout: ['p'],
  identity: [],
};

/** Parses and checks a description's JSON text; problems name the file and the layer. */
export function parseArchitecture(text: string, file: string): ArchitectureDescription {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new FileProblem(file, `is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new FileProblem(file, 'an architecture description is a JSON object');
  const record = json as Record<string, unknown>;
  if (record.flatnessLens !== ARCHITECTURE_TAG) throw new FileProblem(file, `an architecture description starts with "flatnessLens": "${ARCHITECTURE_TAG}"`);
  if (record.from !== undefined) {
    if (typeof record.from !== 'string' || record.from === '') throw new FileProblem(file, '"from" must be the relative path of a model file');
    if (record.layers !== undefined) throw new FileProblem(file, 'give either "from" or "layers", not both');
    return { kind: 'from', from: record.from };
  }
  if (record.framework !== undefined && record.framework !== 'pytorch') throw new FileProblem(file, `framework '${String(record.framework)}' is not supported ("pytorch" only)`);
  const input = record.input;
  if (!Array.isArray(input) || (input.length !== 1 && input.length !== 3) || !input.every((d) => Number.isSafeInteger(d) && d > 0)) {
    throw new FileProblem(file, '"input" must be the per-sample shape: [features] or [channels, height, width]');
  }
  if (!Array.isArray(record.layers) || record.layers.length === 0) throw new FileProblem(file, '"layers" must be a non-empty list');
  const layers = record.layers.map((layer, index): DescribedLayer => {
    const where = `layer ${index + 1}`;
    if (typeof layer !== 'object' || layer === null || typeof (layer as { type?: unknown }).type !== 'string') throw new FileProblem(file, `${where} must be an object with a "type"`);
    const described = layer as DescribedLayer;
    const allowed = describedLayerTypes[described.type];
    if (allowed === undefined) throw new FileProblem(file, `${where}: type '${described.type}' is not supported (supported: ${Object.keys(describedLayerTypes).join(', ')})`);
    for (const key of Object.keys(described)) {
      if (key !== 'type' && !allowed.includes(key)) throw new FileProblem(file, `${where} (${described.type}): unknown parameter '${key}'${allowed.length ? ` (it takes ${allowed.join(', ')})` : ''}`);
    }
    return described;
  });
  const loss = record.loss;
  if (loss !== undefined && loss !== 'ce' && loss !== 'bce' && loss !== 'mse') throw new FileProblem(file, `"loss" must be "ce", "bce" or "mse"`);
  return { kind: 'layers', input: input as number[], layers, loss: loss as LossKind | undefined };
}

/**
 * The ONNX graph of a `layers` description, with its initializers bound by name to the tensors of
 * the weights file (only their names, dims and types are used; values are taken later).
 */
export function compileArchitecture(description: Extract<ArchitectureDescription, { kind: 'layers' }>, tensors: ReadonlyMap<string, StoredTensor>, file: string, weightsFile: string): OnnxModel {
  const nodes: OnnxNode[] = [];
  const initializers: OnnxTensor[] = [];
  const used = new Set<string>();
  let current = 'input';
  description.layers.forEach((layer, index) => {
    const where = `layer ${index + 1} (${layer.type})`;
    const problem = (text: string): never => {
      throw new FileProblem(file, `${where}: ${text}`);
    };
    const integerPair = (key: string, fallback: number): [number, number] => {
      const value = layer[key] ?? fallback;
      const pair = typeof value === 'number' ? [value, value] : value;
      if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((d) => Number.isSafeInteger(d) && d >= 0)) problem(`"${key}" must be a non-negative integer or a pair of them`);
      return pair as [number, number];
    };
    const number = (key: string, fallback: number): number => {
      const value = layer[key] ?? fallback;
      if (typeof value !== 'number' || !Number.isFinite(value)) problem(`"${key}" must be a number`);
      return value as number;
    };
    /** The tensor named by `key`, or `<name>.<suffix>` when the layer gives a "name"; undefined when optional and absent. */
    const tensor = (key: string, suffix: string, optional = false): string | undefined => {
      const explicit = layer[key];
      const prefix = layer.name;
      if (explicit !== undefined && typeof explicit !== 'string') problem(`"${key}" must be a tensor name`);
      if (prefix !== undefined && typeof prefix !== 'string') problem('"name" must be a string');
      const name = (explicit as string | undefined) ?? (prefix !== undefined ? `${prefix as string}.${suffix}` : undefined);
      if (name === undefined) {
        if (optional) return undefined;
        return problem(`give "${key}" (a tensor name in the weights file) or "name" (its prefix, e.g. "fc1" for fc1.${suffix})`);
      }
      const stored = tensors.get(name);
      if (stored === undefined) {
        if (optional && explicit === undefined) return undefined;
        return problem(`tensor '${name}' is not in ${weightsFile}`);
      }
      if (stored.values === undefined) problem(`tensor '${name}' in ${weightsFile} is ${stored.dtype}, not a float tensor`);
      if (used.has(name)) problem(`tensor '${name}' is used twice; shared weights are not supported`);
      used.add(name);
      initializers.push({ name, dims: [...stored.shape], dataType: DataType.FLOAT, start: 0, end: 0, fields: [] });
      return name;
    };
    const nodeName = (): string => {
      const prefix = typeof layer.name === 'string' ? layer.name : typeof layer.weight === 'string' ? layer.weight.replace(/\.weight$/, '') : undefined;
      return prefix ?? `${layer.type}_${index + 1}`;
    };
    const add = (opType: string, inputs: (string | undefined)[], attributes: Record<string, AttributeValue> = {}) => {
      const output = `${nodeName()}:${index + 1}`;
      nodes.push({ name: nodeName(), opType, domain: '', inputs: inputs.filter((i): i is string => i !== undefined), outputs: [output], attributes: new Map(Object.entries(attributes)) });
      current = output;
    };
    const ints = (value: number[]): AttributeValue => ({ kind: 'ints', value });
    const int = (value: number): AttributeValue => ({ kind: 'int', value });
    const float = (value: number): AttributeValue => ({ kind: 'float', value });
    switch (layer.type) {
      case 'linear':
        add('Gemm', [current, tensor('weight', 'weight'), tensor('bias', 'bias', true)], { transB: int(1) });
        return;
      case 'conv2d': {
        const weight = tensor('weight', 'weight')!;
        const dims = tensors.get(weight)!.shape;
        if (dims.length !== 4) problem(`tensor '${weight}' has shape [${dims}], a conv2d weight is [out, in, kh, kw]`);
        const [ph, pw] = integerPair('padding', 0);
        add('Conv', [current, weight, tensor('bias', 'bias', true)], {
          kernel_shape: ints([dims[2], dims[3]]),
          strides: ints(integerPair('stride', 1)),
          pads: ints([ph, pw, ph, pw]),
          dilations: ints(integerPair('dilation', 1)),
          group: int(number('groups', 1)),
        });
        return;
      }
      case 'batchnorm1d':
      case 'batchnorm2d':
        add('BatchNormalization', [current, tensor('weight', 'weight'), tensor('bias', 'bias'), tensor('running_mean', 'running_mean'), tensor('running_var', 'running_var')], {
          epsilon: float(number('eps', 1e-5)),
        });
        return;
      case 'relu':
        add('Relu', [current]);
        return;
      case 'leaky_relu':
        add('LeakyRelu', [current], { alpha: float(number('negative_slope', 0.01)) });
        return;
      case 'elu':
        add('Elu', [current], { alpha: float(number('alpha', 1)) });
        return;
      case 'sigmoid':
        add('Sigmoid', [current]);
        return;
      case 'tanh':
        add('Tanh', [current]);
        return;
      case 'softmax':
        add('Softmax', [current], { axis: int(-1) });
        return;
      case 'maxpool2d':
      case 'avgpool2d': {
        const kernel = integerPair('kernel', 0);
        if (kernel.some((k) => k < 1)) problem('"kernel" must be given (a positive integer or pair)');
        const [ph, pw] = integerPair('padding', 0);
        add(layer.type === 'maxpool2d' ? 'MaxPool' : 'AveragePool', [current], {
          kernel_shape: ints(kernel),
          strides: ints(layer.stride === undefined ? kernel : integerPair('stride', 1)),
          pads: ints([ph, pw, ph, pw]),
        });
        return;
      }
      case 'global_avgpool2d':
        add('GlobalAveragePool', [current]);
        return;
      case 'flatten':
        add('Flatten', [current], { axis: int(1) });
        return;
      case 'dropout':
      case 'identity':
        add('Identity', [current]);
        return;
    }
  });
  const input: OnnxValueInfo = { name: 'input', tensor: { elemType: DataType.FLOAT, dims: ['N', ...description.input] } };
  const output: OnnxValueInfo = { name: current, tensor: undefined };
  return {
    fields: [],
    irVersion: 8,
    producer: 'architecture description',
    opsets: new Map([['', 13]]),
    metadata: new Map(),
    graph: { start: 0, end: 0, fields: [], name: 'architecture', nodes, initializers, inputs: [input], outputs: [output], sparseInitializers: 0 },
  };
}
