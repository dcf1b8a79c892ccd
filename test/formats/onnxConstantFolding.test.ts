import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BATCH, foldNode, viewDims, type FoldInputs, type IntTensor, type IntValue } from '../../src/engine/formats/onnx/constantFolding';
import type { AttributeValue, OnnxNode } from '../../src/engine/formats/onnx/proto';

/** Evaluates a chain of nodes over named integer tensors and data shapes, as graphToSpec does. */
function evaluate(nodes: readonly OnnxNode[], known: Record<string, IntTensor>, shapes: Record<string, IntValue[]> = {}, opset = 13): Map<string, IntTensor> {
  const ints = new Map(Object.entries(known));
  for (const node of nodes) {
    const io: FoldInputs = {
      opset,
      int: (i) => ints.get(node.inputs[i]),
      shape: (i) => shapes[node.inputs[i]],
      tensorAttribute: (name) => {
        const a = node.attributes.get(name);
        return a?.kind === 'ints' ? a.value : undefined;
      },
      attr: {
        int: (name, fallback) => (node.attributes.get(name) as { value: number } | undefined)?.value ?? fallback,
        ints: (name, fallback) => (node.attributes.get(name) as { value: number[] } | undefined)?.value ?? fallback,
      },
      fail: (problem) => {
        throw new Error(`${node.opType}: ${problem}`);
      },
    };
    const out = foldNode(node, io);
    if (out === undefined) throw new Error(`${node.opType} was not folded`);
    ints.set(node.outputs[0], out);
  }
  return ints;
}

let counter = 0;
function node(opType: string, inputs: string[], attributes: Record<string, AttributeValue> = {}): OnnxNode {
  return { name: `${opType}_${counter}`, opType, domain: '', inputs, outputs: [`${opType}_${counter++}`], attributes: new Map(Object.entries(attributes)) };
}
const int = (value: number): AttributeValue => ({ kind: 'int', value });
const ints = (value: number[]): AttributeValue => ({ kind: 'ints', value });
const vector = (...values: number[]): IntTensor => ({ dims: [values.length], values });
const scalar = (value: number): IntTensor => ({ dims: [], values: [value] });
const last = (nodes: OnnxNode[], results: Map<string, IntTensor>) => results.get(nodes[nodes.length - 1].outputs[0]);

test("x.view(x.size(0), -1): Shape → Gather → Unsqueeze → Concat gives [N, -1] with the batch symbolic", () => {
  const shape = node('Shape', ['x']);
  const gather = node('Gather', [shape.outputs[0], 'zero'], { axis: int(0) });
  const unsqueeze = node('Unsqueeze', [gather.outputs[0], 'axes']);
  const minusOne = node('Unsqueeze', ['minusOne', 'axes']);
  const concat = node('Concat', [unsqueeze.outputs[0], minusOne.outputs[0]], { axis: int(0) });
  const chain = [shape, gather, unsqueeze, minusOne, concat];
  const results = evaluate(chain, { zero: scalar(0), minusOne: scalar(-1), axes: vector(0) }, { x: [BATCH, 3, 4, 4] });
  assert.deepEqual(results.get(shape.outputs[0]), { dims: [4], values: [BATCH, 3, 4, 4] });
  assert.deepEqual(results.get(gather.outputs[0]), { dims: [], values: [BATCH] });
  assert.deepEqual(last(chain, results), { dims: [2], values: [BATCH, -1] });
});

test("nn.ZeroPad2d((1, 0, 0, 1))'s pads, as torch.onnx computes them, come out in ONNX order", () => {
  const padShape = node('Shape', ['pad']);
  const padLength = node('Gather', [padShape.outputs[0], 'zero'], { axis: int(0) });
  const doubled = node('Mul', ['four', 'two']);
  const missing = node('Sub', [doubled.outputs[0], padLength.outputs[0]]);
  const cast = node('Cast', ['pad'], { to: int(7) });
  const zeros = node('ConstantOfShape', [missing.outputs[0]], { value: ints([0]) });
  const joined = node('Concat', [cast.outputs[0], zeros.outputs[0]], { axis: int(0) });
  const pairs = node('Reshape', [joined.outputs[0], 'pairShape']);
  const flipped = node('Slice', [pairs.outputs[0], 'minusOneVector', 'hugeNegative', 'zeroVector', 'minusOneVector']);
  const transposed = node('Transpose', [flipped.outputs[0]], { perm: ints([1, 0]) });
  const flat = node('Reshape', [transposed.outputs[0], 'minusOneVector']);
  const chain = [padShape, padLength, doubled, missing, cast, zeros, joined, pairs, flipped, transposed, flat];
  const results = evaluate(chain, {
    pad: vector(1, 0, 0, 1),
    zero: scalar(0),
    four: scalar(4),
    two: scalar(2),
    pairShape: vector(-1, 2),
    minusOneVector: vector(-1),
    hugeNegative: vector(-9223372036854775807),
    zeroVector: vector(0),
  });
  assert.deepEqual(results.get(pairs.outputs[0]), { dims: [4, 2], values: [1, 0, 0, 1, 0, 0, 0, 0] });
  assert.deepEqual(last(chain, results), { dims: [8], values: [0, 0, 0, 1, 0, 0, 1, 0] });
});

test('Gather, Slice, Transpose and broadcasting arithmetic on higher ranks; Unsqueeze/Squeeze axes by attribute before opset 13', () => {
  const m = { dims: [2, 3], values: [0, 1, 2, 3, 4, 5] };
  const columns = node('Gather', ['m', 'picks'], { axis: int(1) });
  const strided = node('Slice', ['m', 'start', 'end', 'axis1', 'step2']);
  const transposed = node('Transpose', ['m']);
  const plus = node('Add', ['m', 'row']);
  const results = evaluate([columns, strided, transposed, plus], { m, picks: vector(2, -3), start: vector(0), end: vector(99), axis1: vector(1), step2: vector(2), row: vector(10, 20, 30) });
  assert.deepEqual(results.get(columns.outputs[0]), { dims: [2, 2], values: [2, 0, 5, 3] });
  assert.deepEqual(results.get(strided.outputs[0]), { dims: [2, 2], values: [0, 2, 3, 5] });
  assert.deepEqual(results.get(transposed.outputs[0]), { dims: [3, 2], values: [0, 3, 1, 4, 2, 5] });
  assert.deepEqual(results.get(plus.outputs[0]), { dims: [2, 3], values: [10, 21, 32, 13, 24, 35] });

  const unsqueeze = node('Unsqueeze', ['v'], { axes: ints([0, -1]) });
  const squeeze = node('Squeeze', [unsqueeze.outputs[0]], { axes: ints([0]) });
  const old = evaluate([unsqueeze, squeeze], { v: vector(7, 8) }, {}, 11);
  assert.deepEqual(old.get(unsqueeze.outputs[0]), { dims: [1, 2, 1], values: [7, 8] });
  assert.deepEqual(old.get(squeeze.outputs[0]), { dims: [2, 1], values: [7, 8] });
});

test('ops on data are left to the mapper; the batch size times or over a number stays symbolic, other arithmetic on it and bad indices are refused', () => {
  const onData = node('Concat', ['x', 'shape'], { axis: int(0) });
  assert.throws(() => evaluate([onData], { shape: vector(-1) }), /Concat was not folded/);
  const batchTimesTwelve = node('Mul', ['n', 'twelve']);
  const backToBatch = node('Div', [batchTimesTwelve.outputs[0], 'twelve']);
  const batchIsNegative = node('Equal', [batchTimesTwelve.outputs[0], 'minusOne']);
  const folded = evaluate([batchTimesTwelve, backToBatch, batchIsNegative], { n: { dims: [2], values: [BATCH, 5] }, twelve: scalar(12), minusOne: scalar(-1) });
  assert.deepEqual(folded.get(batchTimesTwelve.outputs[0]), { dims: [2], values: ['N*12', 60] });
  assert.deepEqual(folded.get(backToBatch.outputs[0]), { dims: [2], values: [BATCH, 5] });
  assert.deepEqual(folded.get(batchIsNegative.outputs[0]), { dims: [2], values: [0, 0] });
  const batchSquared = node('Mul', ['n', 'n']);
  assert.throws(() => evaluate([batchSquared], { n: { dims: [], values: [BATCH] } }), /Mul: multiplies the batch size by itself/);
  const batchPlusOne = node('Add', ['n', 'one']);
  assert.throws(() => evaluate([batchPlusOne], { n: { dims: [], values: [BATCH] }, one: scalar(1) }), /Add: its first operand depends on the batch size/);
  const outOfRange = node('Gather', ['v', 'index']);
  assert.throws(() => evaluate([outOfRange], { v: vector(1, 2), index: scalar(2) }), /Gather: index 2 is out of range/);
  const tooBig = node('ConstantOfShape', ['shape']);
  assert.throws(() => evaluate([tooBig], { shape: vector(4096, 4096) }), /only small shape computations/);
});

test('a weight viewed through Unsqueeze or Reshape keeps its values with new dims', () => {
  const io = {
    opset: 13,
    attr: { int: (_: string, fallback: number) => fallback, ints: (_: string, fallback: number[]) => fallback },
    fail: (problem: string): never => {
      throw new Error(problem);
    },
  };
  const constants: Record<string, number[]> = { axes: [1, 2], shape: [0, -1] };
  const numbers = (name: string) => constants[name];
  assert.deepEqual(viewDims(node('Unsqueeze', ['slope', 'axes']), [8], io, (i) => numbers(['slope', 'axes'][i])), [8, 1, 1]);
  assert.deepEqual(viewDims(node('Reshape', ['w', 'shape']), [4, 3, 2], io, (i) => numbers(['w', 'shape'][i])), [4, 6]);
  assert.throws(() => viewDims(node('Reshape', ['w', 'shape']), [5], io, () => [2, -1]), /cannot reshape \[5\] to \[2,-1\]/);
});

test("x.expand(N, -1, -1) as torch exports it: Equal and Where turn [N, -1, -1] into the shape [N, 1, 1]", () => {
  const ones = node('ConstantOfShape', ['three'], { value: ints([1]) });
  const minusOnes = node('Mul', [ones.outputs[0], 'minusOne']);
  const keep = node('Equal', ['target', minusOnes.outputs[0]]);
  const shape = node('Where', [keep.outputs[0], ones.outputs[0], 'target']);
  const folded = evaluate([ones, minusOnes, keep, shape], { three: vector(3), minusOne: scalar(-1), target: { dims: [3], values: [BATCH, -1, -1] } });
  assert.deepEqual(last([ones, minusOnes, keep, shape], folded), { dims: [3], values: [BATCH, 1, 1] });
  const undecidable = node('Equal', ['n', 'two']);
  assert.throws(() => evaluate([undecidable], { n: { dims: [], values: [BATCH] }, two: scalar(2) }), /Equal of N and 2 depends on the batch size/);
});
