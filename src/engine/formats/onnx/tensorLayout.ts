/**
 * Tensors whose ONNX layout differs from the engine's by a permutation and merged axes: the engine
 * keeps the batch first ([N, e₁, e₂, …]) while an exported attention block moves it (torch's
 * sequence-first [T, N, D]) or merges it with the heads ([N·heads, T, d]). A `tensor` value records,
 * per ONNX axis, the engine axes it merges (row-major, in order; an empty list is an axis of size 1),
 * so Transpose and most Reshapes only relabel, and layers are emitted only where an operation needs
 * the engine's axes in another order (a Permute) or split or merged (a Reshape).
 */
import { BATCH, multiplyIntValues, type IntValue } from './constantFolding';
import type { NodeMapping, TensorValue, Value } from './mapping';

/** Size of engine axis e of the value (axis 0 is the batch). */
function engineSize(v: TensorValue, e: number): IntValue {
  return e === 0 ? BATCH : v.engine[e - 1];
}

function times(a: IntValue, b: IntValue): IntValue {
  return multiplyIntValues(a, b) ?? BATCH;
}

export function onnxDims(v: TensorValue): IntValue[] {
  return v.axes.map((group) => group.reduce<IntValue>((size, e) => times(size, engineSize(v, e)), 1));
}

/** Any value as a tensor value (no layer). */
export function asTensor(v: Value): TensorValue {
  if (v.kind === 'tensor') return v;
  if (v.kind === 'features') return { kind: 'tensor', layer: v.layer, engine: [v.size], axes: [[0], [1]], nonNegative: v.nonNegative };
  if (v.squeezed) return { kind: 'tensor', layer: v.layer, engine: [v.c], axes: [[0], [1], [], []], nonNegative: v.nonNegative };
  return { kind: 'tensor', layer: v.layer, engine: [v.h, v.w, v.c], axes: [[0], [3], [1], [2]], nonNegative: v.nonNegative };
}

const sameGroups = (a: readonly (readonly number[])[], b: readonly (readonly number[])[]) => a.length === b.length && a.every((g, i) => g.length === b[i].length && g.every((e, k) => e === b[i][k]));

/** The value as an image or features when its layout is one of theirs, else unchanged. */
export function normalized(v: TensorValue): Value {
  const base = { layer: v.layer, nonNegative: v.nonNegative };
  if (v.engine.length === 3 && sameGroups(v.axes, [[0], [3], [1], [2]])) return { kind: 'image', ...base, c: v.engine[2], h: v.engine[0], w: v.engine[1] };
  if (v.engine.length === 1 && sameGroups(v.axes, [[0], [1], [], []])) return { kind: 'image', ...base, c: v.engine[0], h: 1, w: 1, squeezed: true };
  if (v.engine.length === 1 && sameGroups(v.axes, [[0], [1]])) return { kind: 'features', ...base, size: v.engine[0] };
  return v;
}

export function transposed(v: TensorValue, perm: readonly number[]): TensorValue {
  return { ...v, axes: perm.map((p) => v.axes[p]) };
}

/** The engine axes reordered to `order` (a permutation of 0…rank−1 with the batch first) by a Permute layer. */
function permuted(n: NodeMapping, v: TensorValue, order: readonly number[], suffix: string): TensorValue {
  if (order.every((e, i) => e === i)) return v;
  if (order[0] !== 0) n.fail('would move the batch axis away from the front of the engine tensor; not supported');
  const layer = n.graph.addLayer(`${n.label}.${suffix}`, 'Permute', { dims: order.slice(1) }, [v.layer]);
  const position = new Map(order.map((e, i) => [e, i]));
  return { ...v, layer: layer.name, engine: order.slice(1).map((e) => v.engine[e - 1]), axes: v.axes.map((g) => g.map((e) => position.get(e)!)) };
}

/** Engine reshape to `engine` (without batch), the ONNX axes regrouped by `axes`. */
function reshaped(n: NodeMapping, v: TensorValue, engine: readonly number[], axes: readonly (readonly number[])[], suffix: string): TensorValue {
  const same = engine.length === v.engine.length && engine.every((d, i) => d === v.engine[i]);
  const layer = same ? v.layer : n.graph.addLayer(`${n.label}.${suffix}`, 'Reshape', { target_shape: [...engine] }, [v.layer]).name;
  return { ...v, layer, engine: [...engine], axes };
}

/**
 * The value with its engine axes in ONNX order and each ONNX axis one engine axis: ONNX and the
 * engine then hold the same tensor (the batch must lead in ONNX).
 */
export function materialized(n: NodeMapping, v: TensorValue): TensorValue {
  const order = v.axes.flat();
  if (v.axes[0]?.length !== 1 || v.axes[0][0] !== 0) n.fail(`the batch is not the first axis of [${onnxDims(v)}]; such a tensor cannot be computed here`);
  const inOrder = permuted(n, v, order, 'permute');
  let next = 0;
  const grouped = inOrder.axes.map((g) => g.map(() => next++));
  const sizes = grouped.map((g) => g.reduce((size, e) => size * (e === 0 ? 1 : inOrder.engine[e - 1]), 1));
  return reshaped(n, { ...inOrder, axes: grouped }, sizes.slice(1), v.axes.map((_, i) => [i]), 'reshape');
}

/**
 * The value with its last ONNX axis as the engine's last axis alone (what Dense, LayerNormalization
 * and Softmax act on): other engine axes keep their order, the last group's axes move to the end
 * and merge.
 */
export function lastAxisLast(n: NodeMapping, v: TensorValue): TensorValue {
  const last = v.axes[v.axes.length - 1];
  const rank = v.engine.length + 1;
  if (last.length === 1 && last[0] === rank - 1) return v;
  if (last.includes(0)) n.fail('acts on an axis that holds the batch; not supported');
  const others = Array.from({ length: rank }, (_, e) => e).filter((e) => !last.includes(e));
  const moved = permuted(n, v, [...others, ...last], 'permute');
  const tail = moved.axes[moved.axes.length - 1];
  if (tail.length === 1) return moved;
  const kept = moved.engine.slice(0, rank - 1 - tail.length);
  const size = tail.reduce((s, e) => s * moved.engine[e - 1], 1);
  return reshaped(n, moved, [...kept, size], [...moved.axes.slice(0, -1), [rank - tail.length]], 'merge');
}

/**
 * ONNX Reshape to `target` (batch symbolic): each target dimension takes the next engine axes in
 * ONNX order, splitting an engine axis where the target asks for a part of it.
 */
export function reshapedTo(n: NodeMapping, v: TensorValue, target: readonly IntValue[]): TensorValue {
  const pieces: { axis: number; size: IntValue }[] = v.axes.flat().map((e) => ({ axis: e, size: engineSize(v, e) }));
  const splits = new Map<number, number[]>();
  const groups: { axis: number; part: number }[][] = [];
  let p = 0;
  let offset = 1; // how much of pieces[p] is already used (a product of parts)
  const fail = () => n.fail(`cannot reshape [${onnxDims(v)}] to [${target}] keeping the batch whole`);
  for (const wanted of target) {
    const group: { axis: number; part: number }[] = [];
    let size: IntValue = 1;
    while (size !== wanted) {
      if (p >= pieces.length) fail();
      const piece = pieces[p];
      if (piece.size === BATCH) {
        group.push({ axis: piece.axis, part: 0 });
        size = times(size, BATCH);
        p++;
        continue;
      }
      const remaining = (piece.size as number) / offset;
      const need = wantedFactor(wanted, size);
      if (need === undefined) fail();
      if (remaining <= need!) {
        const part = remaining;
        if (offset !== 1 || part !== piece.size) splits.set(piece.axis, [...(splits.get(piece.axis) ?? []), part]);
        group.push({ axis: piece.axis, part: splits.has(piece.axis) ? splits.get(piece.axis)!.length - 1 : 0 });
        size = times(size, part);
        p++;
        offset = 1;
      } else {
        if (remaining % need! !== 0) fail();
        splits.set(piece.axis, [...(splits.get(piece.axis) ?? []), need!]);
        group.push({ axis: piece.axis, part: splits.get(piece.axis)!.length - 1 });
        size = times(size, need!);
        offset *= need!;
      }
    }
    groups.push(group);
  }
  while (p < pieces.length && pieces[p].size === 1) p++;
  if (p !== pieces.length) fail();
  // New engine axes: each old engine axis, in engine order, becomes its parts.
  const rank = v.engine.length + 1;
  const newIndex = new Map<string, number>();
  const engine: number[] = [];
  let next = 1;
  newIndex.set('0:0', 0);
  for (let e = 1; e < rank; e++) {
    const parts = splits.get(e) ?? [v.engine[e - 1]];
    parts.forEach((size, k) => {
      newIndex.set(`${e}:${k}`, next++);
      engine.push(size);
    });
  }
  const axes = groups.map((g) => g.map(({ axis, part }) => newIndex.get(`${axis}:${part}`)!));
  return splits.size > 0 ? reshaped(n, v, engine, axes, 'split') : { ...v, engine, axes };
}

/** Reshape's target with 0 (copy) and −1 (the rest) resolved, the batch symbolic. */
export function resolvedTarget(n: NodeMapping, dims: readonly IntValue[], target: readonly IntValue[]): IntValue[] {
  const out = target.map((d, i) => (d === 0 ? (dims[i] ?? n.fail(`shape [${target}] copies dimension ${i}, which the input lacks`)) : d));
  const inferred = out.indexOf(-1);
  if (inferred < 0) return out;
  const total = dims.reduce<IntValue>((a, b) => times(a, b), 1);
  const known = out.reduce<IntValue>((a, b, i) => (i === inferred ? a : times(a, b)), 1);
  const rest = wantedFactor(total, known);
  if (rest === undefined) return n.fail(`cannot reshape [${dims}] to [${target}]`);
  out[inferred] = typeof total !== 'number' && typeof known === 'number' ? times(BATCH, rest) : rest;
  return out;
}

/** How much more a group of `size` needs to reach `wanted` (undefined: it cannot). */
function wantedFactor(wanted: IntValue, size: IntValue): number | undefined {
  const factor = (x: IntValue): [number, boolean] => (typeof x === 'number' ? [x, false] : x === BATCH ? [1, true] : [Number(x.slice(2)), true]);
  const [fw, bw] = factor(wanted);
  const [fs, bs] = factor(size);
  if (bs && !bw) return undefined;
  return fw % fs === 0 ? fw / fs : undefined;
}
