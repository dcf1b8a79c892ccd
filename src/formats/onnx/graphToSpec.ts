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
import type { LayerNode, ModelSpec, WeightTensor } from '../../model/spec';
import { ModelProblem } from '../../shared/errors';
import { BATCH, foldNode, foldedOps, viewDims, weightViewOps, type FoldInputs, type IntTensor, type IntValue } from './constantFolding';
import { toEngine, type WeightLayout } from './layouts';
import { fuseLayerNormalizations } from './layerNormalization';
import { DataType, type AttributeValue, type OnnxModel, type OnnxNode, type OnnxTensor } from './proto';

/** Ops the mapping handles (default ONNX domain). */
export const supportedOnnxOps = [
  'Gemm', 'MatMul', 'Add', 'Relu', 'LeakyRelu', 'PRelu', 'Sigmoid', 'Tanh', 'Softmax', 'Elu', 'Conv', 'MaxPool', 'AveragePool',
  'GlobalAveragePool', 'GlobalMaxPool', 'Flatten', 'Reshape', 'BatchNormalization', 'Concat', 'Identity', 'Dropout', 'Constant', 'Pad',
  'LayerNormalization',
] as const;

/** Where an engine weight's values came from, for the writer. */
export interface OnnxWeightSource {
  readonly initializer: string;
  readonly dims: readonly number[];
  readonly layout: WeightLayout;
}

export interface MappedGraph {
  readonly model: ModelSpec;
  /** Weights in layer order, values in the engine layout, still undecoded: `decode` gives ONNX values. */
  readonly weights: readonly { readonly tensor: OnnxTensor; readonly weight: Omit<WeightTensor, 'values'>; readonly source: OnnxWeightSource }[];
  readonly notes: readonly string[];
}

type Value =
  /** ONNX [N, C, H, W]; engine [N, H, W, C], or [N, C] when `squeezed` (after global pooling, H = W = 1). */
  | { readonly kind: 'image'; readonly layer: string; readonly c: number; readonly h: number; readonly w: number; readonly squeezed?: boolean }
  /** ONNX [N, F]; engine [N, F]. With `chw`, ONNX feature order is CHW and the engine's is HWC. */
  | { readonly kind: 'features'; readonly layer: string; readonly size: number; readonly chw?: readonly [number, number, number] };

/** A layer under construction (bias fusion edits its config). */
interface MutableLayer {
  name: string;
  className: string;
  config: Record<string, unknown>;
  inbound: string[];
}

/**
 * Maps the graph. `readNumbers` decodes a small int64, int32 or float constant (shapes, pads, pad values);
 * shapes and pads computed in the graph are evaluated (constantFolding.ts). Throws ModelProblem
 * naming the node for anything it cannot map exactly.
 */
export function graphToSpec(onnx: OnnxModel, file: string, readNumbers: (tensor: OnnxTensor) => number[]): MappedGraph {
  const graph = fuseLayerNormalizations(onnx.graph, file, readNumbers);
  const opset = onnx.opsets.get('') ?? onnx.opsets.get('ai.onnx') ?? 0;
  const initializers = new Map(graph.initializers.map((t) => [t.name, t]));
  const constants = new Map<string, OnnxTensor>(initializers);
  const values = new Map<string, Value>();
  const layers: MutableLayer[] = [];
  const layerNames = new Set<string>();
  const weights: MappedGraph['weights'][number][] = [];
  const usedInitializers = new Map<string, string>();
  const notes: string[] = [];
  const consumers = new Map<string, number>();
  for (const node of graph.nodes) for (const input of node.inputs) consumers.set(input, (consumers.get(input) ?? 0) + 1);
  for (const output of graph.outputs) consumers.set(output.name, (consumers.get(output.name) ?? 0) + 1);
  /** Dense layers made from MatMul without a bias yet: output tensor → layer. */
  const biasless = new Map<string, MutableLayer>();
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
    if (v !== undefined) return v.kind === 'image' ? [BATCH, v.c, v.h, v.w] : [BATCH, v.size];
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
      if (t === undefined || t.values.includes(BATCH)) return fail(`its ${role} (input ${i}, '${node.inputs[i] ?? ''}') must be a constant`);
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
  const addLayer = (base: string, className: string, config: Record<string, unknown>, inbound: string[]): MutableLayer => {
    const name = uniqueName(base);
    const layer = { name, className, config: { name, ...config }, inbound };
    layers.push(layer);
    return layer;
  };

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
    const flatten = addLayer(`${inputName}.flatten`, 'Flatten', {}, [inputName]);
    values.set(input.name, { kind: 'features', layer: flatten.name, size: engineInputShape[0] * engineInputShape[1] });
  }

  // ---- the nodes ----
  graph.nodes.forEach((node, index) => {
    const label = node.name || `${node.opType}_${index}`;
    const fail = (problem: string): never => {
      throw new ModelProblem(label, `in ${file}: ${node.opType}: ${problem}`);
    };
    if ((node.domain === '' || node.domain === 'ai.onnx') && (foldedOps as readonly string[]).includes(node.opType)) {
      if (foldShapeNode(node, fail)) return;
      if (!(supportedOnnxOps as readonly string[]).includes(node.opType)) {
        throw new ModelProblem(label, `in ${file}: ONNX operator '${node.opType}' is supported only where it computes shapes or constants from constants, not on data`);
      }
    }
    if ((node.domain !== '' && node.domain !== 'ai.onnx') || !(supportedOnnxOps as readonly string[]).includes(node.opType)) {
      const op = node.domain && node.domain !== 'ai.onnx' ? `${node.domain}.${node.opType}` : node.opType;
      throw new ModelProblem(label, `in ${file}: ONNX operator '${op}' is not supported (supported: ${supportedOnnxOps.join(', ')})`);
    }
    const attr = attributeReader(node, fail);
    const valueOf = (i: number): Value => {
      const name = node.inputs[i];
      const v = name === undefined ? undefined : values.get(name);
      if (v === undefined) {
        if (name !== undefined && constants.has(name)) fail(`input ${i} ('${name}') is a constant; only weights may be constants here`);
        fail(`input ${i} ('${name ?? ''}') is not computed by any supported node before it`);
      }
      return v!;
    };
    const constantInput = (i: number, role: string): OnnxTensor => {
      const name = node.inputs[i];
      const tensor = name ? initializers.get(name) : undefined;
      if (!tensor) fail(`its ${role} (input ${i}, '${name ?? ''}') must be an initializer`);
      return tensor!;
    };
    const addWeight = (layer: MutableLayer, role: string, tensor: OnnxTensor, layout: WeightLayout, shape: number[], trainable = true) => {
      const previous = usedInitializers.get(tensor.name);
      if (previous !== undefined) fail(`initializer '${tensor.name}' is also used by '${previous}'; shared weights are not supported`);
      usedInitializers.set(tensor.name, layer.name);
      const count = shape.reduce((a, b) => a * b, 1);
      const onnxCount = tensor.dims.reduce((a, b) => a * b, 1);
      if (count !== onnxCount) fail(`initializer '${tensor.name}' has dims [${tensor.dims}], expected ${count} values for shape [${shape}]`);
      weights.push({ tensor, weight: { name: tensor.name, layer: layer.name, role, shape, trainable }, source: { initializer: tensor.name, dims: tensor.dims, layout } });
    };
    const output = (v: Value) => {
      if (node.outputs[0] === undefined || node.outputs[0] === '') fail('has no output');
      values.set(node.outputs[0], v);
      for (const extra of node.outputs.slice(1)) if (extra !== '' && (consumers.get(extra) ?? 0) > 0) fail(`its output '${extra}' is used; only the first output is supported`);
    };
    const elementwise = (className: string, config: Record<string, unknown>) => {
      const x = valueOf(0);
      const layer = addLayer(label, className, config, [x.layer]);
      output({ ...x, layer: layer.name });
      return layer;
    };
    const needImage = (v: Value): Extract<Value, { kind: 'image' }> => {
      if (v.kind !== 'image' || v.squeezed) fail('expects an [N, C, H, W] input');
      return v as Extract<Value, { kind: 'image' }>;
    };
    const needFeatures = (v: Value): Extract<Value, { kind: 'features' }> => {
      if (v.kind !== 'features') fail('expects an [N, F] input (flatten the image first)');
      return v as Extract<Value, { kind: 'features' }>;
    };

    switch (node.opType) {
      case 'Constant': {
        const value = node.attributes.get('value');
        if (value?.kind !== 'tensor') fail("only the 'value' tensor form is supported");
        constants.set(node.outputs[0], (value as { value: OnnxTensor }).value);
        return;
      }
      case 'Identity':
      case 'Dropout':
        output(valueOf(0));
        return;
      case 'Relu':
      case 'Sigmoid':
      case 'Tanh':
        elementwise('Activation', { activation: node.opType.toLowerCase() });
        return;
      case 'LeakyRelu':
        elementwise('LeakyReLU', { alpha: attr.float('alpha', 0.01) });
        return;
      case 'Elu':
        elementwise('ELU', { alpha: attr.float('alpha', 1) });
        return;
      case 'Softmax': {
        const x = valueOf(0);
        const axis = attr.int('axis', opset >= 13 ? -1 : 1);
        const lastAxis = x.kind === 'features' ? axis === 1 || axis === -1 : opset >= 13 && (axis === 1 || axis === -3);
        if (!lastAxis) fail(`softmax over axis ${axis} of a ${x.kind === 'image' ? 'rank-4 NCHW' : 'rank-2'} tensor is not supported (features, or channels from opset 13)`);
        if (x.kind === 'features' && x.chw) fail('softmax over a flattened NCHW tensor is not supported');
        elementwise('Activation', { activation: 'softmax' });
        return;
      }
      case 'PRelu': {
        const x = valueOf(0);
        const slope = constantInput(1, 'slope');
        const count = slope.dims.reduce((a, b) => a * b, 1);
        let shape: number[];
        if (count === 1) shape = [1];
        else if (x.kind === 'image' && !x.squeezed && count === x.c && slope.dims.length >= 3 && slope.dims.slice(-2).every((d) => d === 1)) shape = [1, 1, x.c];
        else if (x.kind === 'image' && x.squeezed && count === x.c) shape = [x.c];
        else if (x.kind === 'features' && !x.chw && count === x.size && slope.dims[slope.dims.length - 1] === x.size) shape = [x.size];
        else return fail(`slope of dims [${slope.dims}] is not supported (one slope, or one per channel/feature)`);
        const layer = elementwise('PReLU', shape.length === 3 ? { shared_axes: [1, 2] } : {});
        addWeight(layer, 'alpha', slope, { kind: 'same' }, shape);
        return;
      }
      case 'Gemm': {
        const x = needFeatures(valueOf(0));
        if (attr.int('transA', 0) !== 0) fail('transA = 1 is not supported');
        for (const key of ['alpha', 'beta']) if (attr.float(key, 1) !== 1) fail(`${key} = ${attr.float(key, 1)} is not supported (1 only)`);
        const transB = attr.int('transB', 0) === 1;
        const b = constantInput(1, 'weight B');
        if (b.dims.length !== 2) fail(`weight '${b.name}' has dims [${b.dims}], expected rank 2`);
        const [inUnits, units] = transB ? [b.dims[1], b.dims[0]] : [b.dims[0], b.dims[1]];
        if (inUnits !== x.size) fail(`weight '${b.name}' expects ${inUnits} input features, the node receives ${x.size}`);
        const bias = node.inputs[2] ? constantInput(2, 'bias C') : undefined;
        if (bias && bias.dims.reduce((a, d) => a * d, 1) !== units) fail(`bias '${bias.name}' has dims [${bias.dims}], expected [${units}] (broadcast biases are not supported)`);
        const layer = addLayer(label, 'Dense', { units, activation: 'linear', use_bias: bias !== undefined }, [x.layer]);
        addWeight(layer, 'kernel', b, { kind: 'dense', transB, chw: x.chw }, [inUnits, units]);
        if (bias) addWeight(layer, 'bias', bias, { kind: 'same' }, [units]);
        output({ kind: 'features', layer: layer.name, size: units });
        return;
      }
      case 'MatMul': {
        const x = needFeatures(valueOf(0));
        const b = constantInput(1, 'weight B');
        if (b.dims.length !== 2 || b.dims[0] !== x.size) fail(`weight '${b.name}' has dims [${b.dims}], expected [${x.size}, units]`);
        const layer = addLayer(label, 'Dense', { units: b.dims[1], activation: 'linear', use_bias: false }, [x.layer]);
        addWeight(layer, 'kernel', b, { kind: 'dense', transB: false, chw: x.chw }, [b.dims[0], b.dims[1]]);
        output({ kind: 'features', layer: layer.name, size: b.dims[1] });
        if (consumers.get(node.outputs[0]) === 1) biasless.set(node.outputs[0], layer);
        return;
      }
      case 'Add': {
        const constantSide = node.inputs.findIndex((name) => initializers.has(name) || constants.has(name));
        if (constantSide >= 0) {
          const other = node.inputs[1 - constantSide];
          const dense = biasless.get(other);
          const bias = initializers.get(node.inputs[constantSide]);
          const units = dense ? (dense.config.units as number) : 0;
          if (!dense || !bias || bias.dims.reduce((a, d) => a * d, 1) !== units || bias.dims[bias.dims.length - 1] !== units) {
            fail('adding a constant is supported only as the bias of a MatMul ([units] initializer)');
          }
          biasless.delete(other);
          dense!.config.use_bias = true;
          addWeight(dense!, 'bias', bias!, { kind: 'same' }, [units]);
          output(values.get(other)!);
          return;
        }
        const [a, b] = [valueOf(0), valueOf(1)];
        if (JSON.stringify({ ...a, layer: '' }) !== JSON.stringify({ ...b, layer: '' })) fail('inputs of different shapes (broadcasting) are not supported');
        const layer = addLayer(label, 'Add', {}, [a.layer, b.layer]);
        output({ ...a, layer: layer.name });
        return;
      }
      case 'Concat': {
        const parts = node.inputs.map((_, i) => valueOf(i));
        const axis = attr.int('axis', 1);
        const first = parts[0];
        let result: Value;
        if (first.kind === 'image') {
          if (axis !== 1 && axis !== -3) fail(`concatenation along axis ${axis} of NCHW tensors is not supported (channels, axis 1, only)`);
          if (parts.some((p) => p.kind !== 'image' || p.h !== first.h || p.w !== first.w || Boolean(p.squeezed) !== Boolean(first.squeezed))) fail('inputs differ in height or width');
          result = { ...first, c: parts.reduce((sum, p) => sum + (p as typeof first).c, 0), layer: '' };
        } else {
          if (axis !== 1 && axis !== -1) fail(`concatenation along axis ${axis} of [N, F] tensors is not supported`);
          if (parts.some((p) => p.kind !== 'features' || p.chw)) fail('inputs must all be plain [N, F] features');
          result = { kind: 'features', size: parts.reduce((sum, p) => sum + (p as typeof first).size, 0), layer: '' };
        }
        const layer = addLayer(label, 'Concatenate', { axis: -1 }, parts.map((p) => p.layer));
        output({ ...result, layer: layer.name });
        return;
      }
      case 'LayerNormalization': {
        const x = valueOf(0);
        if (x.kind !== 'features' || x.chw) fail('normalizing an [N, C, H, W] tensor (or a flattened one) is not supported; [N, F] features only');
        const size = (x as Extract<Value, { kind: 'features' }>).size;
        const axis = attr.int('axis', -1);
        if (axis !== -1 && axis !== 1) fail(`axis ${axis} is not supported (the feature axis, -1 or 1)`);
        if (attr.int('stash_type', 1) !== 1) fail(`stash_type ${attr.int('stash_type', 1)} is not supported (float32 statistics only)`);
        const scale = node.inputs[1] ? constantInput(1, 'scale') : undefined;
        const bias = node.inputs[2] ? constantInput(2, 'bias B') : undefined;
        const layer = addLayer(label, 'LayerNormalization', { axis: -1, epsilon: attr.float('epsilon', 1e-5), center: bias !== undefined, scale: scale !== undefined }, [x.layer]);
        for (const [role, tensor] of [['gamma', scale], ['beta', bias]] as const) {
          if (!tensor) continue;
          if (tensor.dims.reduce((a, d) => a * d, 1) !== size || tensor.dims[tensor.dims.length - 1] !== size) fail(`${role} '${tensor.name}' has dims [${tensor.dims}], expected [${size}]`);
          addWeight(layer, role, tensor, { kind: 'same' }, [size]);
        }
        output({ kind: 'features', layer: layer.name, size });
        return;
      }
      case 'BatchNormalization': {
        const x = valueOf(0);
        if (x.kind === 'features' && x.chw) fail('batch normalization of a flattened NCHW tensor is not supported');
        if (attr.int('training_mode', 0) !== 0) fail('training_mode = 1 is not supported (inference only)');
        const channels = x.kind === 'image' ? x.c : x.size;
        const layer = addLayer(label, 'BatchNormalization', { axis: -1, epsilon: attr.float('epsilon', 1e-5), momentum: attr.float('momentum', 0.9), center: true, scale: true }, [x.layer]);
        (['gamma', 'beta', 'moving_mean', 'moving_variance'] as const).forEach((role, k) => {
          const tensor = constantInput(k + 1, role);
          if (tensor.dims.length !== 1 || tensor.dims[0] !== channels) fail(`${role} '${tensor.name}' has dims [${tensor.dims}], expected [${channels}]`);
          addWeight(layer, role, tensor, { kind: 'same' }, [channels], role === 'gamma' || role === 'beta');
        });
        output({ ...x, layer: layer.name });
        return;
      }
      case 'Flatten':
      case 'Reshape': {
        const x = valueOf(0);
        if (node.opType === 'Flatten') {
          const axis = attr.int('axis', 1);
          if (axis !== 1) fail(`axis ${axis} is not supported (1 only)`);
        } else {
          const shape = intOf(node.inputs[1]);
          if (!shape) fail('its shape must be a constant, or computed from shapes and constants');
          const target = shape!.values;
          const size = x.kind === 'image' ? x.c * x.h * x.w : x.size;
          const batch = target[0];
          const flat = target.length === 2 && (batch === BATCH || batch === 0 || batch === -1 || (typeof batch === 'number' && batch > 0)) && (target[1] === -1 || target[1] === size) && !(batch === -1 && target[1] === -1);
          if (!flat) fail(`reshape to [${target}] is not supported (only [N, -1], flattening each sample)`);
        }
        if (x.kind === 'features') return output(x);
        if (x.squeezed) return output({ kind: 'features', layer: x.layer, size: x.c });
        const layer = addLayer(label, 'Flatten', {}, [x.layer]);
        const needsOrder = x.c > 1 && x.h * x.w > 1;
        output({ kind: 'features', layer: layer.name, size: x.c * x.h * x.w, chw: needsOrder ? [x.c, x.h, x.w] : undefined });
        return;
      }
      case 'Pad': {
        const x = needImage(valueOf(0));
        const mode = attr.string('mode', 'constant');
        if (mode !== 'constant') fail(`mode '${mode}' is not supported (constant zero padding only)`);
        let pads: readonly IntValue[];
        let fill: readonly number[];
        if (opset >= 11) {
          const given = intOf(node.inputs[1]);
          if (!given) fail(`its pads ('${node.inputs[1] ?? ''}') must be a constant, or computed from constants`);
          pads = given!.values;
          const axes = node.inputs[3] ? intOf(node.inputs[3]) : undefined;
          if (node.inputs[3] && !axes) fail('its axes must be a constant');
          if (axes) {
            const full: IntValue[] = new Array<number>(8).fill(0);
            axes.values.forEach((a, k) => {
              if (typeof a !== 'number' || a < -4 || a > 3) fail(`axis ${a} is out of range for an [N, C, H, W] tensor`);
              const axis = (a as number) < 0 ? (a as number) + 4 : (a as number);
              full[axis] = pads[k];
              full[axis + 4] = pads[k + axes.values.length];
            });
            pads = full;
          }
          const value = node.inputs[2] ? constants.get(node.inputs[2]) : undefined;
          if (node.inputs[2] && !value) fail(`its constant_value ('${node.inputs[2]}') must be a constant`);
          fill = value ? readNumbers(value) : [0];
        } else {
          pads = attr.ints('pads', []);
          fill = [attr.float('value', 0)];
        }
        if (fill.length !== 1 || fill[0] !== 0) fail(`constant_value ${fill.join(', ')} is not supported (zero padding only)`);
        if (pads.length !== 8 || pads.some((p) => typeof p !== 'number' || !Number.isInteger(p) || p < 0)) fail(`pads [${pads}] are not supported: 8 non-negative integers for [N, C, H, W] expected`);
        const [n0, c0, top, left, n1, c1, bottom, right] = pads as number[];
        if (n0 || c0 || n1 || c1) fail(`pads [${pads}] pad the batch or channel axis; only height and width may be padded`);
        if (top + bottom + left + right === 0) return output(x);
        const layer = addLayer(label, 'ZeroPadding2D', { padding: [[top, bottom], [left, right]], data_format: 'channels_last' }, [x.layer]);
        output({ kind: 'image', layer: layer.name, c: x.c, h: x.h + top + bottom, w: x.w + left + right });
        return;
      }
      case 'GlobalAveragePool':
      case 'GlobalMaxPool': {
        const x = needImage(valueOf(0));
        const layer = addLayer(label, node.opType === 'GlobalAveragePool' ? 'GlobalAveragePooling2D' : 'GlobalMaxPooling2D', { data_format: 'channels_last' }, [x.layer]);
        output({ kind: 'image', layer: layer.name, c: x.c, h: 1, w: 1, squeezed: true });
        return;
      }
      case 'Conv': {
        const x = needImage(valueOf(0));
        const weight = constantInput(1, 'weight W');
        if (weight.dims.length !== 4) fail(`weight '${weight.name}' has dims [${weight.dims}]; 2-D convolutions (OIHW) only`);
        const [filters, perGroup, kh, kw] = weight.dims;
        const group = attr.int('group', 1);
        const window = windowOf(attr, fail, x, [kh, kw], 'conv');
        const kernelShape = attr.ints('kernel_shape', [kh, kw]);
        if (kernelShape[0] !== kh || kernelShape[1] !== kw) fail(`kernel_shape [${kernelShape}] does not match weight dims [${weight.dims}]`);
        const bias = node.inputs[2] ? constantInput(2, 'bias B') : undefined;
        if (bias && (bias.dims.length !== 1 || bias.dims[0] !== filters)) fail(`bias '${bias.name}' has dims [${bias.dims}], expected [${filters}]`);
        let inbound = x.layer;
        if (window.explicitPads) inbound = addLayer(`${label}.pad`, 'ZeroPadding2D', { padding: window.explicitPads, data_format: 'channels_last' }, [inbound]).name;
        const common = { kernel_size: [kh, kw], strides: window.strides, padding: window.padding, dilation_rate: window.dilations, activation: 'linear', use_bias: bias !== undefined, data_format: 'channels_last' };
        let layer: MutableLayer;
        if (group === 1) {
          if (perGroup !== x.c) fail(`weight '${weight.name}' expects ${perGroup} input channels, the node receives ${x.c}`);
          layer = addLayer(label, 'Conv2D', { filters, ...common }, [inbound]);
          addWeight(layer, 'kernel', weight, { kind: 'conv' }, [kh, kw, perGroup, filters]);
        } else if (group === x.c && perGroup === 1 && filters % group === 0) {
          const multiplier = filters / group;
          layer = addLayer(label, 'DepthwiseConv2D', { depth_multiplier: multiplier, ...common }, [inbound]);
          addWeight(layer, 'depthwise_kernel', weight, { kind: 'depthwise' }, [kh, kw, group, multiplier]);
        } else {
          return fail(`group = ${group} is not supported (1, or the number of input channels ${x.c} for a depthwise convolution)`);
        }
        if (bias) addWeight(layer, 'bias', bias, { kind: 'same' }, [filters]);
        output({ kind: 'image', layer: layer.name, c: filters, h: window.outH, w: window.outW });
        return;
      }
      case 'MaxPool':
      case 'AveragePool': {
        const x = needImage(valueOf(0));
        const kernel = attr.ints('kernel_shape', []);
        if (kernel.length !== 2) fail(`kernel_shape [${kernel}] is not supported (2-D pooling only)`);
        if (attr.int('ceil_mode', 0) !== 0) fail('ceil_mode = 1 is not supported');
        const zeroPadsCount = node.opType === 'AveragePool' && attr.int('count_include_pad', 0) === 1;
        const window = windowOf(attr, fail, x, [kernel[0], kernel[1]], zeroPadsCount ? 'explicit' : 'pool');
        if (window.dilations.some((d) => d !== 1)) fail(`dilations [${window.dilations}] are not supported for pooling`);
        let inbound = x.layer;
        if (window.explicitPads) inbound = addLayer(`${label}.pad`, 'ZeroPadding2D', { padding: window.explicitPads, data_format: 'channels_last' }, [inbound]).name;
        const layer = addLayer(label, node.opType === 'MaxPool' ? 'MaxPooling2D' : 'AveragePooling2D', { pool_size: kernel, strides: window.strides, padding: window.padding, data_format: 'channels_last' }, [inbound]);
        output({ kind: 'image', layer: layer.name, c: x.c, h: window.outH, w: window.outW });
        return;
      }
      default:
        fail('is not supported');
    }
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
  const ordered = weights.sort((a, b) => layers.indexOf(byName.get(a.weight.layer)!) - layers.indexOf(byName.get(b.weight.layer)!));
  const model: ModelSpec = { inputs: [{ name: inputName, shape: engineInputShape }], layers: layers as LayerNode[], outputs };
  return { model, weights: ordered, notes };
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

interface AttributeReader {
  int(name: string, fallback: number): number;
  float(name: string, fallback: number): number;
  ints(name: string, fallback: number[]): number[];
  string(name: string, fallback: string): string;
}

function attributeReader(node: OnnxNode, fail: (problem: string) => never): AttributeReader {
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

interface Window {
  readonly strides: [number, number];
  readonly dilations: [number, number];
  readonly padding: 'valid' | 'same';
  /** Pads done by a ZeroPadding2D layer before the op: [[top, bottom], [left, right]]. */
  readonly explicitPads?: [[number, number], [number, number]];
  readonly outH: number;
  readonly outW: number;
}

/**
 * Strides, dilations and pads of a Conv or pooling node, mapped onto 'valid'/'same' (TensorFlow's
 * 'same' puts the odd pixel at the end, as ONNX's SAME_UPPER does). Pads that match neither: for a
 * convolution (zero padding) a ZeroPadding2D layer does them; for pooling they are refused.
 * 'explicit': average pooling that counts the padded zeros (count_include_pad) always gets a
 * ZeroPadding2D layer, because TensorFlow's 'same' averages over the real cells only.
 */
function windowOf(attr: AttributeReader, fail: (problem: string) => never, x: { h: number; w: number }, kernel: [number, number], padsBy: 'conv' | 'pool' | 'explicit'): Window {
  const pair = (name: string): [number, number] => {
    const v = attr.ints(name, [1, 1]);
    if (v.length !== 2 || !v.every((d) => Number.isInteger(d) && d > 0)) fail(`${name} [${v}] must be two positive integers`);
    return [v[0], v[1]];
  };
  const strides = pair('strides');
  const dilations = pair('dilations');
  const span = (k: number, d: number) => (k - 1) * d + 1;
  const sameTotal = (size: number, axis: 0 | 1) => Math.max((Math.ceil(size / strides[axis]) - 1) * strides[axis] + span(kernel[axis], dilations[axis]) - size, 0);
  const autoPad = attr.string('auto_pad', 'NOTSET');
  let pads: number[];
  if (autoPad === 'NOTSET') pads = attr.ints('pads', [0, 0, 0, 0]);
  else if (autoPad === 'VALID') pads = [0, 0, 0, 0];
  else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const [th, tw] = [sameTotal(x.h, 0), sameTotal(x.w, 1)];
    const small = (t: number) => (autoPad === 'SAME_UPPER' ? Math.floor(t / 2) : Math.ceil(t / 2));
    pads = [small(th), small(tw), th - small(th), tw - small(tw)];
  } else return fail(`auto_pad '${autoPad}' is not supported`);
  if (pads.length !== 4 || !pads.every((p) => Number.isInteger(p) && p >= 0)) fail(`pads [${pads}] must be four non-negative integers`);
  const [top, left, bottom, right] = pads;
  const out = (size: number, before: number, after: number, axis: 0 | 1) => Math.floor((size + before + after - span(kernel[axis], dilations[axis])) / strides[axis]) + 1;
  const outH = out(x.h, top, bottom, 0);
  const outW = out(x.w, left, right, 1);
  if (outH < 1 || outW < 1) fail(`window ${kernel.join('x')} does not fit an input of ${x.h}x${x.w}`);
  const base = { strides, dilations, outH, outW };
  if (pads.every((p) => p === 0)) return { ...base, padding: 'valid' };
  const tfSame = (size: number, axis: 0 | 1): [number, number] => {
    const total = sameTotal(size, axis);
    return [Math.floor(total / 2), total - Math.floor(total / 2)];
  };
  const [sameTop, sameBottom] = tfSame(x.h, 0);
  const [sameLeft, sameRight] = tfSame(x.w, 1);
  const sameOut = Math.ceil(x.h / strides[0]) === outH && Math.ceil(x.w / strides[1]) === outW;
  if (padsBy !== 'explicit' && sameOut && top === sameTop && bottom === sameBottom && left === sameLeft && right === sameRight) return { ...base, padding: 'same' };
  if (padsBy !== 'pool') return { ...base, padding: 'valid', explicitPads: [[top, bottom], [left, right]] };
  return fail(`pads [${pads}] are not supported for pooling: only none, or the ones TensorFlow's 'same' padding uses here ([${[sameTop, sameLeft, sameBottom, sameRight]}])${top !== bottom || left !== right ? '; these are asymmetric' : ''}`);
}
