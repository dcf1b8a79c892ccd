/** Elementwise activations: Relu, Sigmoid, Tanh, LeakyRelu, Elu, Clip, HardSigmoid, HardSwish, Softmax, PRelu, Gelu, Erf. */
import type { NodeMapping, OperatorHandler } from '../mapping';
import { lastAxisLast, normalized } from '../tensorLayout';

const keras = (activation: string, nonNegative = false): OperatorHandler => (n) => {
  n.elementwise('Activation', { activation }, nonNegative);
};

const softmax: OperatorHandler = (n) => {
  const given = n.valueOf(0);
  if (given.kind === 'tensor') {
    const axis = n.attr.int('axis', n.graph.opset >= 13 ? -1 : 1);
    if (n.graph.opset < 13 || (axis !== -1 && axis !== given.axes.length - 1)) n.fail(`softmax over axis ${axis} of a rank-${given.axes.length} tensor is not supported (the last axis, from opset 13)`);
    const x = lastAxisLast(n, given);
    const layer = n.graph.addLayer(n.label, 'Activation', { activation: 'softmax' }, [x.layer]);
    return n.output(normalized({ ...x, layer: layer.name, nonNegative: true }));
  }
  const x = given;
  const axis = n.attr.int('axis', n.graph.opset >= 13 ? -1 : 1);
  const lastAxis = x.kind === 'features' ? axis === 1 || axis === -1 : n.graph.opset >= 13 && (axis === 1 || axis === -3);
  if (!lastAxis) n.fail(`softmax over axis ${axis} of a ${x.kind === 'image' ? 'rank-4 NCHW' : 'rank-2'} tensor is not supported (features, or channels from opset 13)`);
  if (x.kind === 'features' && x.chw) n.fail('softmax over a flattened NCHW tensor is not supported');
  n.elementwise('Activation', { activation: 'softmax' }, true);
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
 * nn.ReLU6 and Hardtanh(0, 6)); other bounds are not a ReLU and are refused.
 */
const clip: OperatorHandler = (n) => {
  const min = clipBound(n, 1, 'min', -Infinity);
  const max = clipBound(n, 2, 'max', Infinity);
  if (min !== 0) n.fail(`min ${min} is not supported (Clip(0, max), a capped ReLU, only)`);
  if (!(max > 0)) n.fail(`max ${max} is not supported (a positive cap, or none)`);
  if (max === Infinity || max >= 3.4e38) n.elementwise('Activation', { activation: 'relu' }, true);
  else n.elementwise('ReLU', { max_value: max }, true);
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
  Softmax: softmax,
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
