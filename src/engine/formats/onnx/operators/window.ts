/** Strides, dilations and pads of a Conv or pooling node, and how the engine's layers do them. */
import type { AttributeReader } from '../mapping';

/** Pads as a ZeroPadding2D layer takes them: [[top, bottom], [left, right]]. */
export type ExplicitPads = [[number, number], [number, number]];

export interface Window {
  readonly strides: [number, number];
  readonly dilations: [number, number];
  /** Pads [top, left, bottom, right], including what ceil_mode adds at the bottom and right. */
  readonly pads: readonly [number, number, number, number];
  /** Cells ceil_mode adds at the bottom and right beyond the node's own pads. */
  readonly ceilExtra: readonly [number, number];
  /** TensorFlow's 'same' padding puts exactly these pads (the odd one at the end, as SAME_UPPER). */
  readonly matchesSame: boolean;
  readonly outH: number;
  readonly outW: number;
}

export function windowOf(attr: AttributeReader, fail: (problem: string) => never, x: { h: number; w: number }, kernel: [number, number], ceilMode = false): Window {
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
  /** Output size; with ceil_mode, PyTorch's rule: the last window must start inside the input or the leading pad. */
  const out = (size: number, before: number, after: number, axis: 0 | 1): { size: number; extra: number } => {
    const reach = span(kernel[axis], dilations[axis]);
    const room = size + before + after - reach;
    if (!ceilMode) return { size: Math.floor(room / strides[axis]) + 1, extra: 0 };
    let n = Math.ceil(room / strides[axis]) + 1;
    if ((n - 1) * strides[axis] >= size + before) n--;
    return { size: n, extra: Math.max(0, (n - 1) * strides[axis] + reach - (size + before + after)) };
  };
  const rows = out(x.h, top, bottom, 0);
  const cols = out(x.w, left, right, 1);
  if (rows.size < 1 || cols.size < 1) fail(`window ${kernel.join('x')} does not fit an input of ${x.h}x${x.w}`);
  const withExtra = [top, left, bottom + rows.extra, right + cols.extra] as const;
  const tfSame = (size: number, axis: 0 | 1): [number, number] => {
    const total = sameTotal(size, axis);
    return [Math.floor(total / 2), total - Math.floor(total / 2)];
  };
  const [sameTop, sameBottom] = tfSame(x.h, 0);
  const [sameLeft, sameRight] = tfSame(x.w, 1);
  const sameOut = Math.ceil(x.h / strides[0]) === rows.size && Math.ceil(x.w / strides[1]) === cols.size;
  const matchesSame = sameOut && withExtra[0] === sameTop && withExtra[2] === sameBottom && withExtra[1] === sameLeft && withExtra[3] === sameRight;
  return { strides, dilations, pads: withExtra, ceilExtra: [rows.extra, cols.extra], matchesSame, outH: rows.size, outW: cols.size };
}

export function explicitPadsOf(window: Window): ExplicitPads {
  const [top, left, bottom, right] = window.pads;
  return [[top, bottom], [left, right]];
}

export const hasPads = (window: Window): boolean => window.pads.some((p) => p > 0);
