/** Elementwise activations: Relu, Sigmoid, Tanh, LeakyRelu, Elu, Clip, HardSigmoid, HardSwish, Softmax, LogSoftmax, PRelu, Gelu, Erf. */
import type { ImageValue, NodeMapping, OperatorHandler } from '../mapping';
import { lastAxisLast, normalized } from '../tensorLayout';

const keras = (activation: string, nonNegative = false): OperatorHandler => (n) => {
  n.elementwise('Activation', { activation }, nonNegative);
};

/**
 * Softmax and LogSoftmax over one axis (opset 13), or over all axes from `axis` on (before: the input
 * coerced to 2-D there). An [N, C, H, W] image is held channels-last, so an axis other than the last
 * engine axis is permuted last and back around the activation; the batch axis is refused.
 */
const softmaxFamily = (activation: 'softmax' | 'log_softmax'): OperatorHandler => (n) => {
  const given = n.valueOf(0);
  const singleAxis = n.graph.opset >= 13;
  const raw = n.attr.int('axis', singleAxis ? -1 : 1);
  const nonNegative = activation === 'softmax';
  if (given.kind === 'tensor') {
    const rank = given.axes.length;
    if (raw !== -1 && raw !== rank - 1) n.fail(`axis ${raw} of a rank-${rank} tensor is not supported (the last axis)`);
    const x = lastAxisLast(n, given);
    const layer = n.graph.addLayer(n.label, 'Activation', { activation }, [x.layer]);
    return n.output(normalized({ ...x, layer: layer.name, nonNegative }));
  }
  const image = given.kind === 'image' && !given.squeezed;
  const rank = image ? 4 : 2;
  const axis = raw < 0 ? raw + rank : raw;
  if (axis === 0) n.fail(`axis ${raw} runs over the batch, mixing samples; not supported`);
  if (axis < 0 || axis >= rank) n.fail(`axis ${raw} is out of range for a rank-${rank} tensor`);
  // Features (in any order: the activation treats them alike) and channels after global pooling.
  if (!image) return void n.elementwise('Activation', { activation }, nonNegative);
  const x = given as ImageValue;
  const add = (base: string, className: string, config: Record<string, unknown>, inbound: string) => n.graph.addLayer(base, className, config, [inbound]).name;
  /** The activation over engine axis `engineAxis` of a rank-`engineRank` sample (batch axis 0). */
  const over = (inbound: string, engineAxis: number, engineRank: number): string => {
    if (engineAxis === engineRank) return add(n.label, 'Activation', { activation }, inbound);
    const dims = Array.from({ length: engineRank }, (_, i) => (i + 1 === engineAxis ? engineRank : i + 1 === engineRank ? engineAxis : i + 1));
    const inner = add(`${n.label}.activation`, 'Activation', { activation }, add(`${n.label}.permute`, 'Permute', { dims }, inbound));
    return add(n.label, 'Permute', { dims }, inner);
  };
  let layer: string;
  if (singleAxis || axis === 3) layer = over(x.layer, [0, 3, 1, 2][axis], 3);
  else if (axis === 1) {
    // Over C, H and W together: the order of the values does not matter.
    const flat = over(add(`${n.label}.flatten`, 'Reshape', { target_shape: [x.h * x.w * x.c] }, x.layer), 1, 1);
    layer = add(`${n.label}.restore`, 'Reshape', { target_shape: [x.h, x.w, x.c] }, flat);
  } else {
    // Over H and W together, per channel: [H·W, C], the positions last.
    const positions = over(add(`${n.label}.positions`, 'Reshape', { target_shape: [x.h * x.w, x.c] }, x.layer), 1, 2);
    layer = add(`${n.label}.restore`, 'Reshape', { target_shape: [x.h, x.w, x.c] }, positions);
  }
  n.output({ ...x, layer, nonNegative });
};

const prelu: OperatorHandler = (n) => {
  const x = n.valueOf(0);
  const slope = n.constantInput(1, 'slope');
  const count = slope.dims.reduce((a, b) => a * b, 1);
  let shape: number[];
  // One slope: ones over the sample axes, as a Keras PReLU shared over all of them holds it.
  if (count === 1) shape = x.kind === 'image' && !x.squeezed ? [1, 1, 1] : x.kind === 'tensor' ? x.engine.map(() => 1) : [1];
  else if (x.kind === 'image' && !x.squeezed && count === x.c && slope.dims.length >= 3 && slope.dims.slice(-2).every((d) => d === 1)) shape = [1, 1, x.c];
  else if (x.kind === 'image' && x.squeezed && count === x.c) shape = [x.c];
  else if (x.kind === 'features' && !x.chw && count === x.size && slope.dims[slope.dims.length - 1] === x.size) shape = [x.size];
  else return n.fail(`slope of dims [${slope.dims}] is not supported (one slope, or one per channel/feature)`);
  const sharedAxes = shape.map((d, i) => (d === 1 ? i + 1 : 0)).filter((axis) => axis > 0);
  const layer = n.elementwise('PReLU', sharedAxes.length > 0 ? { shared_axes: sharedAxes } : {});
  n.addWeight(layer, 'alpha', slope, { kind: 'same' }, shape);
};

/** The bound of Clip: input i (opset ≥ 11) or the attribute (before), a single number or none. */
function clipBound(n: NodeMapping, i: number, attribute: string, fallback: number): number {
  if (n.graph.opset < 11) return n.attr.float(attribute, fallback);
  const name = n.node.inputs[i];
  if (!name) return fallback;
  const tensor = n.graph.constants.get(name);
  if (!tensor) return n.fail(`its ${attribute} (input ${i}, '${name}') must be a constant`);
  const values = n.graph.readNumbers(tensor);
  if (values.length !== 1) n.fail(`its ${attribute} '${name}' holds ${values.length} values, expected one`);
  return values[0];
}

/**
 * Clip(0, ∞) is ReLU and Clip(0, m) is ReLU capped at m (ReLU6 for m = 6, as torch exports
 * nn.ReLU6 and Hardtanh(0, 6)). Other bounds shift a ReLU: max(x, lo) = lo + relu(x − lo),
 * min(x, hi) = hi − relu(hi − x), and both are lo + relu(x − lo) capped at hi − lo.
 */
const clip: OperatorHandler = (n) => {
  const min = clipBound(n, 1, 'min', -Infinity);
  const max = clipBound(n, 2, 'max', Infinity);
  const unbounded = (v: number) => !Number.isFinite(v) || Math.abs(v) >= 3.4e38;
  const [lo, hi] = [unbounded(min) ? -Infinity : min, unbounded(max) ? Infinity : max];
  if (!(lo < hi)) n.fail(`min ${min} is not below max ${max}; not supported`);
  if (lo === 0) {
    if (hi === Infinity) n.elementwise('Activation', { activation: 'relu' }, true);
    else n.elementwise('ReLU', { max_value: hi }, true);
    return;
  }
  const x = n.valueOf(0);
  if (lo === -Infinity && hi === Infinity) return n.output(x);
  const steps: [string, Record<string, unknown>][] = lo === -Infinity
    ? [['Rescaling', { scale: -1, offset: hi }], ['Activation', { activation: 'relu' }], ['Rescaling', { scale: -1, offset: hi }]]
    : [['Rescaling', { scale: 1, offset: -lo }], hi === Infinity ? ['Activation', { activation: 'relu' }] : ['ReLU', { max_value: hi - lo }], ['Rescaling', { scale: 1, offset: lo }]];
  const layer = steps.reduce((inbound, [className, config], k) => n.graph.addLayer(k === steps.length - 1 ? n.label : `${n.label}.${k}`, className, config, [inbound]).name, x.layer);
  n.output({ ...x, layer, nonNegative: lo >= 0 });
};

/** HardSwish(x) = x · HardSigmoid(x) with α = 1/6, β = 1/2 (opset 14). */
const hardSwish: OperatorHandler = (n) => {
  const x = n.valueOf(0);
  const gate = n.graph.addLayer(`${n.label}.gate`, 'HardSigmoid', { alpha: 1 / 6, beta: 0.5 }, [x.layer]);
  const layer = n.graph.addLayer(n.label, 'Multiply', {}, [x.layer, gate.name]);
  n.output({ ...x, layer: layer.name, nonNegative: false });
};

export const activationOperators: Record<string, OperatorHandler> = {
  Relu: keras('relu', true),
  Sigmoid: keras('sigmoid', true),
  Tanh: keras('tanh'),
  LeakyRelu: (n) => {
    n.elementwise('LeakyReLU', { alpha: n.attr.float('alpha', 0.01) });
  },
  Elu: (n) => {
    n.elementwise('ELU', { alpha: n.attr.float('alpha', 1) });
  },
  Softmax: softmaxFamily('softmax'),
  LogSoftmax: softmaxFamily('log_softmax'),
  PRelu: prelu,
  Clip: clip,
  HardSigmoid: (n) => {
    n.elementwise('HardSigmoid', { alpha: n.attr.float('alpha', 0.2), beta: n.attr.float('beta', 0.5) }, true);
  },
  HardSwish: hardSwish,
  /** Opset 20, or the chain gelu.ts fuses. */
  Gelu: (n) => {
    const approximate = n.attr.string('approximate', 'none');
    if (approximate !== 'none' && approximate !== 'tanh') n.fail(`approximate '${approximate}' is not supported ('none' or 'tanh')`);
    n.elementwise('Activation', { activation: approximate === 'tanh' ? 'gelu_tanh' : 'gelu' });
  },
  Erf: keras('erf'),
};
