/** Smooth elementwise operators: Softplus, Selu, Exp, Log, Sqrt, Pow (a constant exponent), and Cast from float to float. */
import type { OperatorHandler } from '../mapping';
import { DataType } from '../proto';

const activation = (name: string, nonNegative = false): OperatorHandler => (n) => {
  n.elementwise('Activation', { activation: name }, nonNegative);
};

/** ONNX's Selu defaults are the float32 roundings of the SELU constants (Klambauer et al. 2017). */
const seluAlpha = Math.fround(1.6732632423543772);
const seluGamma = Math.fround(1.0507009873554805);

/** Selu(x) = γ·ELU_α(x): the SELU activation for the default α and γ, an ELU then a scaling otherwise. */
const selu: OperatorHandler = (n) => {
  const alpha = n.attr.float('alpha', seluAlpha);
  const gamma = n.attr.float('gamma', seluGamma);
  if (Math.fround(alpha) === seluAlpha && Math.fround(gamma) === seluGamma) return void n.elementwise('Activation', { activation: 'selu' });
  const x = n.valueOf(0);
  const elu = n.graph.addLayer(`${n.label}.elu`, 'ELU', { alpha }, [x.layer]);
  const layer = n.graph.addLayer(n.label, 'Rescaling', { scale: gamma, offset: 0 }, [elu.name]);
  n.output({ ...x, layer: layer.name, nonNegative: false });
};

/** Pow(x, p) with p one constant number: x^p elementwise. */
const pow: OperatorHandler = (n) => {
  const name = n.node.inputs[1];
  const tensor = name ? n.graph.constants.get(name) : undefined;
  if (!tensor) return n.fail(`its exponent (input 1, '${name ?? ''}') must be a constant`);
  const values = n.graph.readNumbers(tensor);
  if (values.length !== 1) return n.fail(`its exponent '${name}' holds ${values.length} values; one constant exponent only`);
  const exponent = values[0];
  if (!Number.isFinite(exponent)) return n.fail(`its exponent ${exponent} is not a finite number`);
  const evenInteger = Number.isInteger(exponent) && exponent % 2 === 0;
  n.elementwise('Power', { exponent }, evenInteger || n.valueOf(0).nonNegative === true);
};

/** Cast to float of a float tensor changes nothing; other casts of data are refused. */
const cast: OperatorHandler = (n) => {
  const to = n.attr.int('to', 0);
  if (to !== DataType.FLOAT) n.fail(`a cast of data to element type ${to} is not supported (float to float only)`);
  n.output(n.valueOf(0));
};

export const elementwiseOperators: Record<string, OperatorHandler> = {
  Softplus: activation('softplus', true),
  Selu: selu,
  Exp: activation('exp', true),
  Log: activation('log'),
  Sqrt: activation('sqrt', true),
  Pow: pow,
  Cast: cast,
};
