/**
 * An ONNX graph mapped onto the engine's Keras-style layers (channels-last).
 *
 * Images: ONNX is NCHW with OIHW kernels; the engine is NHWC with HWIO kernels. A rank-4 model input
 * [N, C, H, W] becomes an engine input of shape [H, W, C], so data must be given channels-last: a
 * sample stored as (C, H, W) has to be transposed to (H, W, C) (the reader says so in a note).
 * Kernels are transposed here and back in the writer. Where ONNX flattens an NCHW tensor
 * (Flatten, Reshape to [N, -1]) and a Dense layer follows, the Dense kernel's rows are permuted
 * from CHW to HWC order, so the engine's channels-last flatten feeds it the same features.
 */
import type { LayerNode, ModelSpec, WeightUse } from '../../model/spec';
import { ModelProblem } from '../../../protocol/errors';
import { BATCH, foldNode, isBatchDependent, foldedOps, viewDims, weightViewOps, type FoldInputs, type IntTensor, type IntValue } from './constantFolding';
import { toEngine } from './layouts';
import { fuseLayerNormalizations } from './layerNormalization';
import { fuseGelus } from './gelu';
import { onnxDims } from './tensorLayout';
import { attributeReader, type GraphMapping, type MappedWeight, type MutableLayer, type NodeMapping, type OnnxWeightSource, type Value } from './mapping';
import { operatorHandlers, supportedOnnxOps } from './operators/registry';
import { DataType, type OnnxModel, type OnnxNode, type OnnxTensor } from './proto';

export type { OnnxWeightSource } from './mapping';
export { supportedOnnxOps } from './operators/registry';

export interface MappedGraph {
  readonly model: ModelSpec;
  /** Weights in layer order, values in the engine layout, still undecoded: `decode` gives ONNX values. */
  readonly weights: readonly MappedWeight[];
  readonly notes: readonly string[];
}

/**
 * Maps the graph. `readNumbers` decodes a small int64, int32 or float constant (shapes, pads, pad values);
 * shapes and pads computed in the graph are evaluated (constantFolding.ts). Each node is mapped by its
 * operator's handler (operators/registry.ts). Throws ModelProblem naming the node for anything it
 * cannot map exactly.
 */
export function graphToSpec(onnx: OnnxModel, file: string, readNumbers: (tensor: OnnxTensor) => number[]): MappedGraph {
  const graph = fuseGelus(fuseLayerNormalizations(onnx.graph, file, readNumbers), readNumbers);
  const opset = onnx.opsets.get('') ?? onnx.opsets.get('ai.onnx') ?? 0;
  const initializers = new Map(graph.initializers.map((t) => [t.name, t]));
  const constants = new Map<string, OnnxTensor>(initializers);
  const values = new Map<string, Value>();
  const layers: MutableLayer[] = [];
  const layerNames = new Set<string>();
  const weights: MappedWeight[] = [];
  /** Initializer name → its weight entry and the further (layer, role) uses of a shared one. */
  const usedInitializers = new Map<string, { entry: MappedWeight; layout: string; shape: string; uses: WeightUse[] }>();
  const notes: string[] = [];
  const consumers = new Map<string, number>();
  for (const node of graph.nodes) for (const input of node.inputs) consumers.set(input, (consumers.get(input) ?? 0) + 1);
  for (const output of graph.outputs) consumers.set(output.name, (consumers.get(output.name) ?? 0) + 1);
  /** Integer tensors known while mapping: int constants and shapes or pads computed from them. */
  const ints = new Map<string, IntTensor>();
  const intOf = (name: string | undefined): IntTensor | undefined => {
    if (!name) return undefined;
    const known = ints.get(name);
    if (known !== undefined) return known;
    const tensor = constants.get(name);
    if (tensor === undefined || (tensor.dataType !== DataType.INT64 && tensor.dataType !== DataType.INT32)) return undefined;
    const decoded = { dims: tensor.dims, values: readNumbers(tensor) };
    ints.set(name, decoded);
    return decoded;
  };
  /** The ONNX shape of a data tensor or a constant, batch symbolic. */
  const onnxShapeOf = (name: string | undefined): IntValue[] | undefined => {
    const v = name ? values.get(name) : undefined;
    if (v !== undefined) return v.kind === 'image' ? [BATCH, v.c, v.h, v.w] : v.kind === 'tensor' ? onnxDims(v) : [BATCH, v.size];
    const grouped = name ? mapping.channelGroups.get(name) : undefined;
    if (grouped !== undefined) {
      const { source, groups, transposed } = grouped;
      const perGroup = source.c / groups;
      return [BATCH, transposed ? perGroup : groups, transposed ? groups : perGroup, source.h, source.w];
    }
    const tensor = name ? constants.get(name) : undefined;
    return tensor && [...tensor.dims];
  };
  /**
   * Evaluates a node that computes an integer tensor from known ones, or passes a weight through a
   * shape-only op (the output is the same initializer with other dims). False for an op on data.
   */
  const foldShapeNode = (node: OnnxNode, fail: (problem: string) => never): boolean => {
    const io: FoldInputs = {
      opset,
      int: (i) => intOf(node.inputs[i]),
      shape: (i) => onnxShapeOf(node.inputs[i]),
      tensorAttribute: (name) => {
        const attribute = node.attributes.get(name);
        return attribute?.kind === 'tensor' ? readNumbers(attribute.value) : undefined;
      },
      attr: attributeReader(node, fail),
      fail,
    };
    const folded = foldNode(node, io);
    if (folded !== undefined) {
      ints.set(node.outputs[0], folded);
      return true;
    }
    const weight = initializers.get(node.inputs[0]);
    if (weight === undefined || !(weightViewOps as readonly string[]).includes(node.opType)) return false;
    const numbers = (i: number, role: string): number[] => {
      const t = intOf(node.inputs[i]);
      if (t === undefined || t.values.some(isBatchDependent)) return fail(`its ${role} (input ${i}, '${node.inputs[i] ?? ''}') must be a constant`);
      return t.values as number[];
    };
    const view: OnnxTensor = { ...weight, dims: viewDims(node, weight.dims, io, numbers) };
    initializers.set(node.outputs[0], view);
    constants.set(node.outputs[0], view);
    return true;
  };

  const uniqueName = (base: string): string => {
    const clean = base.replace(/^\/+/, '').replace(/\//g, '.') || 'layer';
    let name = clean;
    for (let k = 2; layerNames.has(name); k++) name = `${clean}_${k}`;
    layerNames.add(name);
    return name;
  };
  const mapping: GraphMapping = {
    file,
    opset,
    initializers,
    constants,
    values,
    consumers,
    channelGroups: new Map(),
    biasless: new Map(),
    notes,
    get inputLayer() {
      return inputName;
    },
    readNumbers,
    intOf,
    addLayer: (base, className, config, inbound) => {
      const name = uniqueName(base);
      const layer = { name, className, config: { name, ...config }, inbound };
      layers.push(layer);
      return layer;
    },
  };

  refuseUnknownOperators(graph, file);

  // ---- the input ----
  const dataInputs = graph.inputs.filter((i) => !initializers.has(i.name));
  if (dataInputs.length !== 1) {
    throw new ModelProblem(dataInputs.map((i) => i.name).join(', ') || '(none)', `in ${file}: ONNX models with ${dataInputs.length} graph inputs are not supported (one input only)`);
  }
  const input = dataInputs[0];
  const dims = input.tensor?.dims;
  if (!input.tensor || !dims) throw new ModelProblem(input.name, `in ${file}: the graph input has no tensor shape`);
  if (input.tensor.elemType !== DataType.FLOAT) throw new ModelProblem(input.name, `in ${file}: the graph input has element type ${input.tensor.elemType}; float inputs only`);
  const known = (d: number | string | undefined, axis: number): number => {
    if (typeof d !== 'number' || d <= 0) throw new ModelProblem(input.name, `in ${file}: input dimension ${axis} is ${JSON.stringify(d ?? '?')}; only the batch dimension may be symbolic`);
    return d;
  };
  const inputName = uniqueName(input.name);
  let engineInputShape: number[];
  if (dims.length === 4) {
    const [c, h, w] = [known(dims[1], 1), known(dims[2], 2), known(dims[3], 3)];
    engineInputShape = [h, w, c];
    values.set(input.name, { kind: 'image', layer: inputName, c, h, w });
    notes.push(`the ONNX input '${input.name}' is NCHW [N, ${c}, ${h}, ${w}]; Flatness Lens runs it channels-last: give data as (H, W, C) = (${h}, ${w}, ${c}) per sample (transpose (C, H, W) samples)`);
  } else if (dims.length === 2) {
    const size = known(dims[1], 1);
    engineInputShape = [size];
    values.set(input.name, { kind: 'features', layer: inputName, size });
  } else if (dims.length === 3 && flattenedOnRead(graph.nodes, input.name)) {
    engineInputShape = [known(dims[1], 1), known(dims[2], 2)];
  } else {
    throw new ModelProblem(input.name, `in ${file}: inputs of rank ${dims.length} are not supported (rank 2 [N, F], rank 4 [N, C, H, W], or rank 3 [N, T, F] that a Flatten reads first)`);
  }
  layers.push({ name: inputName, className: 'InputLayer', config: { name: inputName, batch_input_shape: [null, ...engineInputShape], dtype: 'float32' }, inbound: [] });
  if (dims.length === 3) {
    // [N, T, F] flattened row-major is the same T·F features in ONNX and channels-last: the ONNX Flatten node then passes them on.
    const flatten = mapping.addLayer(`${inputName}.flatten`, 'Flatten', {}, [inputName]);
    values.set(input.name, { kind: 'features', layer: flatten.name, size: engineInputShape[0] * engineInputShape[1] });
  }

  // ---- the nodes ----
  graph.nodes.forEach((node, index) => {
    const label = node.name || `${node.opType}_${index}`;
    const fail = (problem: string): never => {
      throw new ModelProblem(label, `in ${file}: ${node.opType}: ${problem}`);
    };
    const defaultDomain = node.domain === '' || node.domain === 'ai.onnx';
    const handler = defaultDomain ? operatorHandlers.get(node.opType) : undefined;
    if (defaultDomain && (foldedOps as readonly string[]).includes(node.opType)) {
      if (foldShapeNode(node, fail)) return;
      if (!handler) throw new ModelProblem(label, `in ${file}: ONNX operator '${node.opType}' is supported only where it computes shapes or constants from constants, not on data`);
    }
    if (!handler) {
      const op = defaultDomain ? node.opType : `${node.domain}.${node.opType}`;
      throw new ModelProblem(label, `in ${file}: ONNX operator '${op}' is not supported (supported: ${supportedOnnxOps.join(', ')})`);
    }
    handler(nodeMapping(mapping, node, label, fail, (layer, role, tensor, layout, shape, trainable = true) => {
      const count = shape.reduce((a, b) => a * b, 1);
      const onnxCount = tensor.dims.reduce((a, b) => a * b, 1);
      if (count !== onnxCount) fail(`initializer '${tensor.name}' has dims [${tensor.dims}], expected ${count} values for shape [${shape}]`);
      const previous = usedInitializers.get(tensor.name);
      if (previous !== undefined) {
        // One tensor feeding several nodes: one parameter, read by each use (its gradient and Hessian sum over them).
        const first = previous.entry.weight;
        if (previous.layout !== JSON.stringify(layout) || previous.shape !== JSON.stringify(shape) || first.trainable !== trainable) {
          fail(`initializer '${tensor.name}' is also used by '${first.layer}' as ${first.role} [${first.shape}], here as ${role} [${shape}] in another layout; sharing it so is not supported`);
        }
        previous.uses.push({ layer: layer.name, role });
        return;
      }
      const uses: WeightUse[] = [];
      const entry: MappedWeight = { tensor, weight: { name: tensor.name, layer: layer.name, role, shape, trainable, alsoUsedBy: uses }, source: { initializer: tensor.name, dims: tensor.dims, layout } };
      usedInitializers.set(tensor.name, { entry, layout: JSON.stringify(layout), shape: JSON.stringify(shape), uses });
      weights.push(entry);
    }));
  });

  // ---- the outputs ----
  const outputs = graph.outputs.map((o) => {
    const v = values.get(o.name);
    if (!v) throw new ModelProblem(o.name, `in ${file}: graph output '${o.name}' is not computed by the graph`);
    if (v.kind === 'features' && v.chw) throw new ModelProblem(v.layer, `in ${file}: the output '${o.name}' is a flattened NCHW tensor, whose feature order differs channels-last; not supported`);
    if (v.kind === 'image' && !v.squeezed) notes.push(`the output '${o.name}' is NCHW in ONNX; Flatness Lens computes it channels-last (N, H, W, C)`);
    return v.layer;
  });
  const byName = new Map(layers.map((l) => [l.name, l]));
  const ordered = weights
    .map((w) => (w.weight.alsoUsedBy?.length ? w : { ...w, weight: { ...w.weight, alsoUsedBy: undefined } }))
    .sort((a, b) => layers.indexOf(byName.get(a.weight.layer)!) - layers.indexOf(byName.get(b.weight.layer)!));
  const shared = ordered.filter((w) => w.weight.alsoUsedBy);
  if (shared.length > 0) notes.push(`${shared.length} initializer${shared.length === 1 ? ' feeds' : 's feed'} several nodes (${shared.map((w) => `'${w.weight.name}'`).join(', ')}); each is one parameter`);
  const model: ModelSpec = { inputs: [{ name: inputName, shape: engineInputShape }], layers: layers as LayerNode[], outputs };
  return { model, weights: ordered, notes };
}

/** The helpers one node's handler uses. */
function nodeMapping(graph: GraphMapping, node: OnnxNode, label: string, fail: (problem: string) => never, addWeight: NodeMapping['addWeight']): NodeMapping {
  const valueOf = (i: number): Value => {
    const name = node.inputs[i];
    const v = name === undefined ? undefined : graph.values.get(name);
    if (v === undefined) {
      if (name !== undefined && graph.constants.has(name)) fail(`input ${i} ('${name}') is a constant; only weights may be constants here`);
      if (name !== undefined && graph.channelGroups.has(name)) fail(`input ${i} ('${name}') is an [N, C, H, W] tensor split into channel groups; only a channel shuffle may read it (Transpose [0, 2, 1, 3, 4], then Reshape back to [N, C, H, W])`);
      fail(`input ${i} ('${name ?? ''}') is not computed by any supported node before it`);
    }
    return v!;
  };
  const output = (v: Value) => {
    if (node.outputs[0] === undefined || node.outputs[0] === '') fail('has no output');
    graph.values.set(node.outputs[0], v);
    for (const extra of node.outputs.slice(1)) if (extra !== '' && (graph.consumers.get(extra) ?? 0) > 0) fail(`its output '${extra}' is used; only the first output is supported`);
  };
  return {
    node,
    label,
    graph,
    attr: attributeReader(node, fail),
    fail,
    valueOf,
    constantInput: (i, role) => {
      const name = node.inputs[i];
      const tensor = name ? graph.initializers.get(name) : undefined;
      if (!tensor) fail(`its ${role} (input ${i}, '${name ?? ''}') must be an initializer`);
      return tensor!;
    },
    addWeight,
    output,
    elementwise: (className, config, nonNegative = false) => {
      const x = valueOf(0);
      const layer = graph.addLayer(label, className, config, [x.layer]);
      output({ ...x, layer: layer.name, nonNegative });
      return layer;
    },
    needImage: (v) => {
      if (v.kind !== 'image' || v.squeezed) fail('expects an [N, C, H, W] input');
      return v as Extract<Value, { kind: 'image' }>;
    },
    needFeatures: (v) => {
      if (v.kind !== 'features') fail('expects an [N, F] input (flatten the image first)');
      return v as Extract<Value, { kind: 'features' }>;
    },
  };
}

/** Whether the only node reading `name` is a Flatten to [N, -1] (axis 1). */
function flattenedOnRead(nodes: readonly OnnxNode[], name: string): boolean {
  const readers = nodes.filter((n) => n.inputs.includes(name));
  const axis = readers[0]?.attributes.get('axis');
  return readers.length === 1 && readers[0].opType === 'Flatten' && (axis === undefined || (axis.kind === 'int' && axis.value === 1));
}

/** Engine values of an initializer decoded in the ONNX layout. */
export function engineValues(onnxValues: Float32Array, source: OnnxWeightSource): Float32Array {
  return toEngine(onnxValues, source.dims, source.layout);
}


/**
 * Refuses the first node whose operator no handler reads, naming the node and the operator. It is
 * the real obstacle, so it is named before the problems it causes around it (its input's rank, the
 * Expand that feeds it), and already when the file is only described.
 */
export function refuseUnknownOperators(graph: OnnxModel['graph'], file: string): void {
  graph.nodes.forEach((node, index) => {
    const defaultDomain = node.domain === '' || node.domain === 'ai.onnx';
    if (defaultDomain && (operatorHandlers.has(node.opType) || (foldedOps as readonly string[]).includes(node.opType))) return;
    const op = defaultDomain ? node.opType : `${node.domain}.${node.opType}`;
    throw new ModelProblem(node.name || `${node.opType}_${index}`, `in ${file}: ONNX operator '${op}' is not supported (supported: ${supportedOnnxOps.join(', ')})`);
  });
}
