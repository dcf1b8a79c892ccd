/**
 * A graph builder that records, for every primitive it emits, the primitive's vector-Jacobian
 * product (for the backward pass) and its Jacobian-vector product (for the forward-mode R-pass).
 * Differentiating the backward pass forward gives the exact Hessian-vector product (Pearlmutter's
 * R-operator applied to backprop): every primitive of the forward and the backward graph is linear,
 * bilinear or elementwise, so its JVP is again a few primitives.
 *
 * Layout: ONNX's, so 4-D values are NCHW. Values that do not depend on the weights (inputs,
 * targets, constants, ReLU masks, max-pool indices) carry no derivatives.
 */
import type { Attribute, ElementType, GraphNode, GraphPort, Initializer } from './onnxModel';

export interface Value {
  readonly name: string;
  readonly shape: readonly number[];
  /** Depends on the weights (or on a direction): derivatives flow through it. */
  readonly variable: boolean;
}

/** The gradients with respect to a primitive's inputs (undefined: zero or not needed). */
type VectorJacobianProduct = (outputGradient: Value) => (Value | undefined)[];
/** The output's tangent from the inputs' tangents (undefined: zero). */
type JacobianVectorProduct = (tangents: (Value | undefined)[]) => Value | undefined;

interface Recorded {
  readonly inputs: readonly Value[];
  readonly output: Value;
  readonly vjp?: VectorJacobianProduct;
  readonly jvp: JacobianVectorProduct;
}

export interface ConvolutionAttributes {
  readonly strides: readonly [number, number];
  readonly dilations: readonly [number, number];
  /** top, left, bottom, right */
  readonly pads: readonly [number, number, number, number];
  readonly group: number;
}

export interface PoolAttributes {
  readonly kernel: readonly [number, number];
  readonly strides: readonly [number, number];
  readonly pads: readonly [number, number, number, number];
}

const total = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`shapes [${a.join(', ')}] and [${b.join(', ')}] do not broadcast`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Samples × output positions of a convolution above which its tangent filters are turned too (see `convInputGradient`). */
const positionsForTurningTangentFilters = 256;

export class Tape {
  readonly nodes: GraphNode[] = [];
  readonly initializers: Initializer[] = [];
  private readonly recorded: Recorded[] = [];
  private counter = 0;
  private readonly int64Constants = new Map<string, string>();
  private readonly scalarConstants = new Map<number, Value>();
  private readonly masks = new Map<string, Value>();
  /** Each filter turned for conv's input gradient, by the filter's name (the R-passes reuse it). */
  private readonly turnedFilters = new Map<string, Value>();
  /** Every node output's element type and shape, by name: what a graph that outputs or takes it declares. */
  readonly ports = new Map<string, GraphPort>();
  /** The node that computes each output, by name. */
  private readonly producers = new Map<string, GraphNode>();

  private fresh(stem: string): string {
    return `${stem}_${this.counter++}`;
  }

  private emit(op: string, inputs: readonly string[], shape: readonly number[], variable: boolean, attributes?: Record<string, Attribute>): Value {
    const output: Value = { name: this.fresh(op.toLowerCase()), shape: [...shape], variable };
    this.push({ op, inputs, outputs: [output.name], attributes });
    this.port(output.name, shape, op === 'Greater' ? 'bool' : 'float');
    return output;
  }

  private push(node: GraphNode): void {
    this.nodes.push(node);
    for (const output of node.outputs) this.producers.set(output, node);
  }

  private port(name: string, shape: readonly number[], type: ElementType): void {
    this.ports.set(name, { name, shape: [...shape], type });
  }

  private record(inputs: readonly Value[], output: Value, jvp: JacobianVectorProduct, vjp?: VectorJacobianProduct): Value {
    if (output.variable) this.recorded.push({ inputs, output, jvp, vjp });
    return output;
  }

  /** How many differentiable primitives are recorded so far. */
  get primitiveCount(): number {
    return this.recorded.length;
  }

  /** The differentiable primitives recorded from index `from` on: ONNX op, inputs, output and the node's attributes. */
  primitivesSince(from: number): { readonly op: string; readonly inputs: readonly Value[]; readonly output: Value; readonly attributes?: Record<string, Attribute> }[] {
    return this.recorded.slice(from).map((r) => {
      const node = this.producers.get(r.output.name);
      return { op: node?.op ?? 'unknown', inputs: r.inputs, output: r.output, attributes: node?.attributes };
    });
  }

  /** A graph input: a weight or direction (variable) or data (constant). */
  input(name: string, shape: readonly number[], variable: boolean): Value {
    return { name, shape: [...shape], variable };
  }

  constant(values: Float32Array, shape: readonly number[]): Value {
    const name = this.fresh('const');
    this.initializers.push({ name, shape: [...shape], values });
    return { name, shape: [...shape], variable: false };
  }

  scalar(value: number): Value {
    let v = this.scalarConstants.get(value);
    if (!v) this.scalarConstants.set(value, (v = this.constant(Float32Array.of(value), [])));
    return v;
  }

  private int64s(values: readonly number[]): string {
    const key = values.join(',');
    let name = this.int64Constants.get(key);
    if (!name) {
      name = this.fresh('ints');
      this.initializers.push({ name, shape: [values.length], values: BigInt64Array.from(values.map((v) => BigInt(v))) });
      this.int64Constants.set(key, name);
    }
    return name;
  }

  // ---- linear primitives ------------------------------------------------------------------------

  reshape(x: Value, shape: readonly number[]): Value {
    if (same(x.shape, shape)) return x;
    if (total(shape) !== total(x.shape)) throw new Error(`cannot reshape [${x.shape.join(', ')}] into [${shape.join(', ')}]`);
    const y = this.emit('Reshape', [x.name, this.int64s(shape)], shape, x.variable);
    return this.record([x], y, ([dx]) => dx && this.reshape(dx, shape), (g) => [this.reshape(g, x.shape)]);
  }

  transpose(x: Value, perm: readonly number[]): Value {
    if (perm.every((p, i) => p === i)) return x;
    const inverse = perm.map((_, i) => perm.indexOf(i));
    const y = this.emit('Transpose', [x.name], perm.map((p) => x.shape[p]), x.variable, { perm: [...perm] });
    return this.record([x], y, ([dx]) => dx && this.transpose(dx, perm), (g) => [this.transpose(g, inverse)]);
  }

  /** Sum over `axes`, keeping them as size 1. */
  reduceSum(x: Value, axes: readonly number[]): Value {
    if (axes.length === 0) return x;
    const shape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const y = this.emit('ReduceSum', [x.name, this.int64s(axes)], shape, x.variable, { keepdims: 1 });
    return this.record([x], y, ([dx]) => dx && this.reduceSum(dx, axes), (g) => [this.expand(g, x.shape)]);
  }

  expand(x: Value, shape: readonly number[]): Value {
    if (same(x.shape, shape)) return x;
    const y = this.emit('Expand', [x.name, this.int64s(shape)], broadcastShape(x.shape, shape), x.variable);
    return this.record([x], y, ([dx]) => dx && this.expand(dx, shape), (g) => [this.sumTo(g, x.shape)]);
  }

  /** Sums g over the axes along which a value of `shape` was broadcast to g's shape. */
  sumTo(g: Value, shape: readonly number[]): Value {
    if (same(g.shape, shape)) return g;
    const offset = g.shape.length - shape.length;
    const axes = g.shape.map((_, i) => i).filter((i) => i < offset || (shape[i - offset] === 1 && g.shape[i] !== 1));
    return this.reshape(this.reduceSum(g, axes), shape);
  }

  add(a: Value, b: Value): Value {
    const shape = broadcastShape(a.shape, b.shape);
    const y = this.emit('Add', [a.name, b.name], shape, a.variable || b.variable);
    return this.record([a, b], y, ([da, db]) => this.sumOfTangents(da, db, shape), (g) => [a.variable ? this.sumTo(g, a.shape) : undefined, b.variable ? this.sumTo(g, b.shape) : undefined]);
  }

  sub(a: Value, b: Value): Value {
    const shape = broadcastShape(a.shape, b.shape);
    const y = this.emit('Sub', [a.name, b.name], shape, a.variable || b.variable);
    return this.record(
      [a, b],
      y,
      ([da, db]) => (db ? (da ? this.sub(da, db) : this.expand(this.neg(db), shape)) : da && this.expand(da, shape)),
      (g) => [a.variable ? this.sumTo(g, a.shape) : undefined, b.variable ? this.sumTo(this.neg(g), b.shape) : undefined],
    );
  }

  private sumOfTangents(da: Value | undefined, db: Value | undefined, shape: readonly number[]): Value | undefined {
    if (da && db) return this.add(da, db);
    const d = da ?? db;
    return d && this.expand(d, shape);
  }

  mul(a: Value, b: Value): Value {
    const shape = broadcastShape(a.shape, b.shape);
    const y = this.emit('Mul', [a.name, b.name], shape, a.variable || b.variable);
    return this.record(
      [a, b],
      y,
      ([da, db]) => this.sumOfTangents(da && this.mul(da, b), db && this.mul(a, db), shape),
      (g) => [a.variable ? this.sumTo(this.mul(g, b), a.shape) : undefined, b.variable ? this.sumTo(this.mul(g, a), b.shape) : undefined],
    );
  }

  scale(x: Value, factor: number): Value {
    return factor === 1 ? x : this.mul(x, this.scalar(factor));
  }

  neg(x: Value): Value {
    const y = this.emit('Neg', [x.name], x.shape, x.variable);
    return this.record([x], y, ([dx]) => dx && this.neg(dx), (g) => [this.neg(g)]);
  }

  matmul(a: Value, b: Value): Value {
    if (a.shape.length !== 2 || b.shape.length !== 2 || a.shape[1] !== b.shape[0]) throw new Error(`cannot multiply [${a.shape.join(', ')}] by [${b.shape.join(', ')}]`);
    const y = this.emit('MatMul', [a.name, b.name], [a.shape[0], b.shape[1]], a.variable || b.variable);
    return this.record(
      [a, b],
      y,
      ([da, db]) => this.sumOfTangents(da && this.matmul(da, b), db && this.matmul(a, db), y.shape),
      (g) => [a.variable ? this.matmul(g, this.transpose(b, [1, 0])) : undefined, b.variable ? this.matmul(this.transpose(a, [1, 0]), g) : undefined],
    );
  }

  /** a [..., m, k] · b [..., k, n] with equal leading dimensions (rank ≥ 3): bilinear, like matmul per leading index. */
  batchMatmul(a: Value, b: Value): Value {
    const rank = a.shape.length;
    const fits = rank >= 3 && b.shape.length === rank && a.shape.slice(0, -2).every((d, i) => d === b.shape[i]) && a.shape[rank - 1] === b.shape[rank - 2];
    if (!fits) throw new Error(`cannot batch-multiply [${a.shape.join(', ')}] by [${b.shape.join(', ')}]`);
    const y = this.emit('MatMul', [a.name, b.name], [...a.shape.slice(0, -1), b.shape[rank - 1]], a.variable || b.variable);
    const swapLast = (x: Value) => this.transpose(x, x.shape.map((_, i) => (i < rank - 2 ? i : i === rank - 2 ? rank - 1 : rank - 2)));
    return this.record(
      [a, b],
      y,
      ([da, db]) => this.sumOfTangents(da && this.batchMatmul(da, b), db && this.batchMatmul(a, db), y.shape),
      (g) => [a.variable ? this.batchMatmul(g, swapLast(b)) : undefined, b.variable ? this.batchMatmul(swapLast(a), g) : undefined],
    );
  }

  // ---- elementwise nonlinear primitives ---------------------------------------------------------

  /** 1 where x > 0, else 0: the derivative of relu, itself constant almost everywhere. */
  private positiveMask(x: Value): Value {
    let mask = this.masks.get(x.name);
    if (!mask) {
      const positive = this.emit('Greater', [x.name, this.scalar(0).name], x.shape, false);
      mask = this.emit('Cast', [positive.name], x.shape, false, { to: 1 });
      this.masks.set(x.name, mask);
    }
    return mask;
  }

  relu(x: Value): Value {
    const y = this.emit('Relu', [x.name], x.shape, x.variable);
    return this.record([x], y, ([dx]) => dx && this.mul(dx, this.positiveMask(x)), (g) => [this.mul(g, this.positiveMask(x))]);
  }

  /** An elementwise y = f(x) whose derivative f'(x) is built from x and y. */
  private elementwise(op: string, x: Value, derivative: (x: Value, y: Value) => Value): Value {
    const y = this.emit(op, [x.name], x.shape, x.variable);
    let slope: Value | undefined;
    const slopeOnce = () => (slope ??= derivative(x, y));
    return this.record([x], y, ([dx]) => dx && this.mul(dx, slopeOnce()), (g) => [this.mul(g, slopeOnce())]);
  }

  exp(x: Value): Value {
    return this.elementwise('Exp', x, (_, y) => y);
  }

  log(x: Value): Value {
    return this.elementwise('Log', x, (input) => this.reciprocal(input));
  }

  reciprocal(x: Value): Value {
    return this.elementwise('Reciprocal', x, (_, y) => this.neg(this.mul(y, y)));
  }

  tanh(x: Value): Value {
    return this.elementwise('Tanh', x, (_, y) => this.sub(this.scalar(1), this.mul(y, y)));
  }

  sigmoid(x: Value): Value {
    return this.elementwise('Sigmoid', x, (_, y) => this.mul(y, this.sub(this.scalar(1), y)));
  }

  /** erf, with erf′(x) = 2/√π · e^{−x²}. */
  erf(x: Value): Value {
    return this.elementwise('Erf', x, (input) => this.scale(this.exp(this.neg(this.mul(input, input))), 2 / Math.sqrt(Math.PI)));
  }

  sqrt(x: Value): Value {
    return this.elementwise('Sqrt', x, (_, y) => this.scale(this.reciprocal(y), 0.5));
  }

  /** x^p for a constant p, with (x^p)′ = p·x^(p−1); x⁰ is a constant 1, which carries no derivative. */
  power(x: Value, exponent: number): Value {
    if (exponent === 1) return x;
    const y = this.emit('Pow', [x.name, this.scalar(exponent).name], x.shape, x.variable && exponent !== 0);
    let slope: Value | undefined;
    const slopeOnce = () => (slope ??= this.scale(this.power(x, exponent - 1), exponent));
    return this.record([x], y, ([dx]) => dx && this.mul(dx, slopeOnce()), (g) => [this.mul(g, slopeOnce())]);
  }

  /** Row maxima over `axis` (kept), outside differentiation: used only as a shift that cancels exactly. */
  detachedMax(x: Value, axis: number): Value {
    return this.emit('ReduceMax', [x.name], x.shape.map((d, i) => (i === axis ? 1 : d)), false, { axes: [axis], keepdims: 1 });
  }

  // ---- convolution and pooling (NCHW) ---------------------------------------------------------

  conv(x: Value, w: Value, attrs: ConvolutionAttributes): Value {
    const [n, , h, wd] = x.shape;
    const [filters, , kh, kw] = w.shape;
    const outH = Math.floor((h + attrs.pads[0] + attrs.pads[2] - ((kh - 1) * attrs.dilations[0] + 1)) / attrs.strides[0]) + 1;
    const outW = Math.floor((wd + attrs.pads[1] + attrs.pads[3] - ((kw - 1) * attrs.dilations[1] + 1)) / attrs.strides[1]) + 1;
    const y = this.emit('Conv', [x.name, w.name], [n, filters, outH, outW], x.variable || w.variable, convAttributes(attrs, [kh, kw]));
    return this.record(
      [x, w],
      y,
      ([dx, dw]) => this.sumOfTangents(dx && this.conv(dx, w, attrs), dw && this.conv(x, dw, attrs), y.shape),
      (g) => [x.variable ? this.convInputGradient(g, w, attrs, x.shape) : undefined, w.variable ? this.convFilterGradient(x, g, attrs, w.shape) : undefined],
    );
  }

  /** ONNX's ConvTranspose of x with w [in, out/group, kh, kw] to `outputShape`: conv's adjoint in its input. */
  convTranspose(x: Value, w: Value, attrs: ConvolutionAttributes, outputShape: readonly number[]): Value {
    return this.convInputGradient(x, w, attrs, outputShape);
  }

  /** The adjoint of conv in its input: ConvTranspose with the same geometry. Bilinear in (g, w). */
  private convInputGradient(g: Value, w: Value, attrs: ConvolutionAttributes, inputShape: readonly number[], turnFilter = true): Value {
    const [, , kh, kw] = w.shape;
    const outputPadding = [0, 1].map((axis) => {
      const covered = (g.shape[2 + axis] - 1) * attrs.strides[axis] - attrs.pads[axis] - attrs.pads[axis + 2] + ((axis === 0 ? kh : kw) - 1) * attrs.dilations[axis] + 1;
      return inputShape[2 + axis] - covered;
    });
    // At stride 1 the adjoint is a convolution with the filter turned, which ONNX Runtime runs about
    // twice as fast as ConvTranspose.
    const turnedPads = [kh - 1 - attrs.pads[0], kw - 1 - attrs.pads[1], kh - 1 - attrs.pads[2], kw - 1 - attrs.pads[3]] as const;
    const plain = turnFilter && [...attrs.strides, ...attrs.dilations, attrs.group].every((v) => v === 1) && outputPadding.every((p) => p === 0) && turnedPads.every((p) => p >= 0);
    // The turned filter's own nodes are not recorded: a tangent filter is new for every product, and
    // turning it (a Transpose and a reversing Slice) costs in proportion to the filter while
    // ConvTranspose's slower loop costs in proportion to the samples × positions that g holds. With
    // few of those (a ResNet's deep stages: 512 × 512 filters on 2 × 2 maps) the tangent takes
    // ConvTranspose on the tangent filter as it is.
    const turnTangentFilter = g.shape[0] * g.shape[2] * g.shape[3] > positionsForTurningTangentFilters;
    const y = plain
      ? this.emit('Conv', [g.name, this.turnedFilterNodes(w).name], inputShape, g.variable || w.variable, convAttributes({ strides: [1, 1], dilations: [1, 1], pads: turnedPads, group: 1 }, [kh, kw]))
      : this.emit('ConvTranspose', [g.name, w.name], inputShape, g.variable || w.variable, { ...convAttributes(attrs, [kh, kw]), output_padding: outputPadding });
    return this.record(
      [g, w],
      y,
      ([dg, dw]) => this.sumOfTangents(dg && this.convInputGradient(dg, w, attrs, inputShape), dw && this.convInputGradient(g, dw, attrs, inputShape, turnTangentFilter), inputShape),
      // Reverse mode, for a ConvTranspose in the network itself: the conv forward, and conv's filter gradient.
      (upstream) => [g.variable ? this.conv(upstream, w, attrs) : undefined, w.variable ? this.convFilterGradient(upstream, g, attrs, w.shape) : undefined],
    );
  }

  /** w [O, I, kh, kw] as [I, O, kh, kw] turned by 180° in space, as plain nodes (not recorded), once per filter. */
  private turnedFilterNodes(w: Value): Value {
    let turned = this.turnedFilters.get(w.name);
    if (!turned) {
      const [o, i, h, wd] = w.shape;
      const swapped = this.emit('Transpose', [w.name], [i, o, h, wd], w.variable, { perm: [1, 0, 2, 3] });
      // Steps of -1 from the last position through the first (an end of -(size + 1) is before index 0).
      turned = this.emit('Slice', [swapped.name, this.int64s([-1, -1]), this.int64s([-(h + 1), -(wd + 1)]), this.int64s([2, 3]), this.int64s([-1, -1])], swapped.shape, w.variable);
      this.turnedFilters.set(w.name, turned);
    }
    return turned;
  }

  /**
   * The adjoint of conv in its filter, as a convolution of the input (channels and batch swapped)
   * with the output gradient as the kernel: strides and dilations trade places. With G groups of
   * c input channels each, the input becomes c "samples" of G·N channels (group-major), so the same
   * grouped convolution pairs each group's filters with its own channels. Bilinear in (x, g).
   */
  convFilterGradient(x: Value, g: Value, attrs: ConvolutionAttributes, filterShape: readonly number[]): Value {
    const [n, channels, h, w] = x.shape;
    const perGroup = channels / attrs.group;
    const grouped = this.reshape(this.transpose(this.reshape(x, [n, attrs.group, perGroup, h, w]), [2, 1, 0, 3, 4]), [perGroup, attrs.group * n, h, w]);
    const swapped = this.conv(grouped, this.transpose(g, [1, 0, 2, 3]), {
      strides: attrs.dilations,
      dilations: attrs.strides,
      pads: attrs.pads,
      group: attrs.group,
    });
    const [, , kh, kw] = filterShape;
    const cropped = swapped.shape[2] === kh && swapped.shape[3] === kw ? swapped : this.slice(swapped, [0, 0, 0, 0], [swapped.shape[0], swapped.shape[1], kh, kw]);
    return this.transpose(cropped, [1, 0, 2, 3]);
  }

  /** x[starts : starts + sizes]. Linear; its adjoint pads with zeros. */
  slice(x: Value, starts: readonly number[], sizes: readonly number[]): Value {
    const ends = starts.map((s, i) => s + sizes[i]);
    const axes = starts.map((_, i) => i);
    const y = this.emit('Slice', [x.name, this.int64s(starts), this.int64s(ends), this.int64s(axes)], sizes, x.variable);
    const pads = [...starts, ...x.shape.map((d, i) => d - ends[i])];
    return this.record([x], y, ([dx]) => dx && this.slice(dx, starts, sizes), (g) => [this.pad(g, pads)]);
  }

  /** Joins values along `axis`. Linear; its adjoint slices each part back out. */
  concat(parts: readonly Value[], axis: number): Value {
    if (parts.length === 1) return parts[0];
    const shape = [...parts[0].shape];
    shape[axis] = parts.reduce((sum, p) => sum + p.shape[axis], 0);
    const y = this.emit('Concat', parts.map((p) => p.name), shape, parts.some((p) => p.variable), { axis });
    const offsets = parts.map((_, k) => parts.slice(0, k).reduce((sum, p) => sum + p.shape[axis], 0));
    return this.record(
      parts,
      y,
      (tangents) => this.concat(tangents.map((t, k) => t ?? this.zerosLike(parts[k])), axis),
      (g) => parts.map((p, k) => (p.variable ? this.slice(g, shape.map((_, i) => (i === axis ? offsets[k] : 0)), p.shape) : undefined)),
    );
  }

  /** Zero padding; pads as ONNX orders them (all begins, then all ends). Linear; its adjoint slices. */
  pad(x: Value, pads: readonly number[]): Value {
    const rank = x.shape.length;
    if (pads.every((p) => p === 0)) return x;
    const shape = x.shape.map((d, i) => d + pads[i] + pads[i + rank]);
    const y = this.emit('Pad', [x.name, this.int64s(pads)], shape, x.variable, { mode: 'constant' });
    return this.record([x], y, ([dx]) => dx && this.pad(dx, pads), (g) => [this.slice(g, pads.slice(0, rank), x.shape)]);
  }

  /**
   * Max pooling. The indices of the maxima (into the flattened input) are fixed at given weights
   * almost everywhere, so the pool is a gather: its tangent gathers, its adjoint scatters.
   */
  maxPool(x: Value, attrs: PoolAttributes): Value {
    const [n, c, h, w] = x.shape;
    const outH = Math.floor((h + attrs.pads[0] + attrs.pads[2] - attrs.kernel[0]) / attrs.strides[0]) + 1;
    const outW = Math.floor((w + attrs.pads[1] + attrs.pads[3] - attrs.kernel[1]) / attrs.strides[1]) + 1;
    const shape = [n, c, outH, outW];
    const y: Value = { name: this.fresh('maxpool'), shape, variable: x.variable };
    const indices = this.fresh('argmax');
    this.push({ op: 'MaxPool', inputs: [x.name], outputs: [y.name, indices], attributes: { kernel_shape: [...attrs.kernel], strides: [...attrs.strides], pads: [...attrs.pads] } });
    this.port(y.name, shape, 'float');
    this.port(indices, shape, 'int64');
    return this.record([x], y, ([dx]) => dx && this.gatherAt(dx, indices, shape), (g) => [this.scatterAt(g, indices, x.shape)]);
  }

  private gatherAt(x: Value, indices: string, shape: readonly number[]): Value {
    const flat = this.reshape(x, [total(x.shape)]);
    const y = this.emit('Gather', [flat.name, indices], shape, x.variable, { axis: 0 });
    return this.record([x], y, ([dx]) => dx && this.gatherAt(dx, indices, shape), (g) => [this.scatterAt(g, indices, x.shape)]);
  }

  private scatterAt(g: Value, indices: string, shape: readonly number[]): Value {
    const size = total(shape);
    const zeros = this.emit('ConstantOfShape', [this.int64s([size])], [size], false);
    const flatIndices = this.fresh('flatindices');
    this.push({ op: 'Reshape', inputs: [indices, this.int64s([total(g.shape)])], outputs: [flatIndices] });
    this.port(flatIndices, [total(g.shape)], 'int64');
    const updates = this.reshape(g, [total(g.shape)]);
    const scattered = this.emit('ScatterElements', [zeros.name, flatIndices, updates.name], [size], g.variable, { axis: 0, reduction: 'add' });
    this.record([g], scattered, ([dg]) => dg && this.reshape(this.scatterAt(dg, indices, shape), [size]));
    return this.reshape(scattered, shape);
  }

  // ---- differentiation --------------------------------------------------------------------------

  /** Reverse mode: ∂output/∂ each of `wrt`, for a scalar output. */
  gradients(output: Value, wrt: readonly Value[]): Value[] {
    const adjoints = new Map<string, Value>([[output.name, this.onesLike(output)]]);
    const snapshot = this.recorded.length;
    for (let i = snapshot - 1; i >= 0; i--) {
      const node = this.recorded[i];
      const g = adjoints.get(node.output.name);
      if (!g) continue;
      if (!node.vjp) throw new Error(`no reverse-mode rule recorded for ${node.output.name}`);
      node.vjp(g).forEach((gi, k) => {
        const input = node.inputs[k];
        if (!gi || !input.variable) return;
        const previous = adjoints.get(input.name);
        adjoints.set(input.name, previous ? this.add(previous, gi) : gi);
      });
    }
    return wrt.map((w) => adjoints.get(w.name) ?? this.zerosLike(w));
  }

  /**
   * Forward mode: the tangent of each of `outputs` when each seed's tangent is given, through the
   * first `upTo` recorded primitives (those `outputs` depend on: not the nodes of earlier tangents).
   */
  tangents(seeds: ReadonlyMap<string, Value>, outputs: readonly Value[], upTo = this.recorded.length): Value[] {
    const tangent = new Map(seeds);
    const snapshot = Math.min(upTo, this.recorded.length);
    for (let i = 0; i < snapshot; i++) {
      const node = this.recorded[i];
      const inputs = node.inputs.map((x) => tangent.get(x.name));
      if (inputs.every((t) => t === undefined)) continue;
      const t = node.jvp(inputs);
      if (t) tangent.set(node.output.name, t);
    }
    return outputs.map((o) => tangent.get(o.name) ?? this.zerosLike(o));
  }

  private onesLike(x: Value): Value {
    return this.constant(new Float32Array(total(x.shape)).fill(1), x.shape);
  }

  private zerosLike(x: Value): Value {
    return this.constant(new Float32Array(total(x.shape)), x.shape);
  }
}

function convAttributes(attrs: ConvolutionAttributes, kernel: readonly number[]): Record<string, Attribute> {
  return { kernel_shape: [...kernel], strides: [...attrs.strides], dilations: [...attrs.dilations], pads: [...attrs.pads], group: attrs.group };
}
