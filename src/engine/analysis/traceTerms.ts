import * as tf from '@tensorflow/tfjs-core';
import { countDetail, type StageProgress } from './progress';
import type { HessianVectorProduct } from './lanczos';
import type { SeededRandom } from '../numeric/random';
import { blockStreamLabel, meanAndStderr } from './trace';
import { disposeVector } from './vectors';
import type { ParameterInfo } from '../model/network';
import { throwIfAborted } from '../../protocol/errors';
import type { TraceTerm } from '../symmetry/exponentialSum';
import type { LinearForm, ScaleStructure, WeightScaling } from '../symmetry/symmetry';

/** Entries of one weight tensor that share a log-factor form: their diagonal sum scales as one. */
interface EntryGroup {
  readonly parameter: number;
  readonly form: LinearForm;
  /** Entry indices; undefined for the whole tensor. */
  readonly entries?: Int32Array;
  readonly size: number;
}

function entryForm(scaling: WeightScaling, e: number): LinearForm {
  const sub = (a: LinearForm, b: LinearForm): LinearForm => {
    const m = new Map(a.map(([v, c]) => [v, c]));
    for (const [v, c] of b) m.set(v, (m.get(v) ?? 0) - c);
    return [...m].filter(([, c]) => c !== 0).sort((x, y) => x[0] - y[0]);
  };
  if (scaling.kind === 'kernel') {
    const outs = scaling.shape[scaling.shape.length - 1];
    const ins = scaling.shape[scaling.shape.length - 2];
    return sub(scaling.columns[e % outs], scaling.rows![Math.floor(e / outs) % ins]);
  }
  if (scaling.kind === 'depthwise') {
    const [, , channels, multiplier] = scaling.shape;
    const c = Math.floor(e / multiplier) % channels;
    return sub(scaling.columns[c * multiplier + (e % multiplier)], scaling.rows![c]);
  }
  return scaling.columns[e % scaling.columns.length];
}

function groupsOf(structure: ScaleStructure, parameters: readonly ParameterInfo[]): EntryGroup[] {
  const scalings = new Map(structure.weights.map((w) => [w.name, w]));
  const groups: EntryGroup[] = [];
  parameters.forEach((p, k) => {
    const scaling = scalings.get(p.name);
    if (!scaling) {
      groups.push({ parameter: k, form: [], size: p.size });
      return;
    }
    const byKey = new Map<string, { form: LinearForm; entries: number[] }>();
    for (let e = 0; e < p.size; e++) {
      const form = entryForm(scaling, e);
      const key = JSON.stringify(form);
      let group = byKey.get(key);
      if (!group) byKey.set(key, (group = { form, entries: [] }));
      group.entries.push(e);
    }
    for (const { form, entries } of byKey.values()) {
      groups.push({ parameter: k, form, size: entries.length, entries: byKey.size === 1 ? undefined : Int32Array.from(entries) });
    }
  });
  return groups;
}

export interface GroupTraceOptions {
  readonly samples: number;
  /** The trace metric's random stream: whole-tensor groups then get exactly the trace metric's probes. */
  readonly random: SeededRandom;
  readonly signal?: AbortSignal;
  readonly onProgress?: StageProgress;
}

/**
 * Trace terms for layer-granularity scalings: the Hessian diagonal summed over each group of entries
 * that scale alike (a whole weight tensor in a chain; one block per input branch after a
 * Concatenate), by Hutchinson probes restricted to the group (exact over unit vectors when the group
 * has at most `samples` entries). Whole-tensor groups use the same random streams as `hessianTrace`,
 * so they reproduce its block traces.
 */
export async function layerTraceTerms(hvp: HessianVectorProduct, parameters: readonly ParameterInfo[], structure: ScaleStructure, options: GroupTraceOptions): Promise<{ terms: TraceTerm[]; stderr: number }> {
  const groups = groupsOf(structure, parameters);
  const terms: TraceTerm[] = [];
  let variance = 0;
  const totalProbes = groups.reduce((n, group) => n + Math.min(group.size, options.samples), 0);
  let done = 0;
  for (const group of groups) {
    const p = parameters[group.parameter];
    const exact = group.size <= options.samples;
    const random = options.random.fork(group.entries ? `${blockStreamLabel(group.parameter, p.size)}#${JSON.stringify(group.form)}` : blockStreamLabel(group.parameter, p.size));
    const probes = exact ? group.size : options.samples;
    const values: number[] = [];
    for (let s = 0; s < probes; s++) {
      throwIfAborted(options.signal);
      const flat = new Float32Array(p.size);
      if (exact) flat[group.entries ? group.entries[s] : s] = 1;
      else {
        const signs = random.rademachers(group.entries ? group.size : p.size);
        if (group.entries) group.entries.forEach((e, i) => (flat[e] = signs[i]));
        else flat.set(signs);
      }
      const z = parameters.map((q, i) => (i === group.parameter ? tf.tensor(flat, [...q.shape]) : tf.zeros([...q.shape])));
      const hz = hvp(z);
      values.push(tf.tidy(() => tf.sum(tf.mul(hz[group.parameter], z[group.parameter])).dataSync()[0]));
      disposeVector(z);
      disposeVector(hz);
      done++;
      options.onProgress?.(done / totalProbes, countDetail('probe', done, totalProbes));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const { mean, stderr } = meanAndStderr(values);
    terms.push({ h: exact ? mean * group.size : mean, form: group.form, label: group.entries ? `${p.name} (${group.size} entries)` : p.name });
    if (!exact) variance += stderr * stderr;
  }
  return { terms, stderr: Math.sqrt(variance) };
}

/**
 * Trace terms for unit-granularity scalings, where every kernel entry can scale differently: the
 * Hessian diagonal itself, estimated as the mean of z ⊙ Hz over Rademacher z (Bekas, Kokiopoulou &
 * Saad 2007) — exact over unit vectors when θ has at most `samples` entries. Entries with the same
 * log-factor form are merged into one term.
 */
export async function unitTraceTerms(hvp: HessianVectorProduct, parameters: readonly ParameterInfo[], structure: ScaleStructure, options: GroupTraceOptions): Promise<{ terms: TraceTerm[]; clippedNegative: number }> {
  const total = parameters.reduce((n, p) => n + p.size, 0);
  const exact = total <= options.samples;
  const diagonal = parameters.map((p) => new Float64Array(p.size));
  const probes = exact ? total : options.samples;
  const random = options.random.fork('diagonal');
  for (let s = 0; s < probes; s++) {
    throwIfAborted(options.signal);
    let offset = 0;
    const z = parameters.map((p) => {
      const flat = new Float32Array(p.size);
      if (exact) {
        if (s >= offset && s < offset + p.size) flat[s - offset] = 1;
      } else flat.set(random.rademachers(p.size));
      offset += p.size;
      return tf.tensor(flat, [...p.shape]);
    });
    const hz = hvp(z);
    hz.forEach((t, k) => {
      const product = tf.tidy(() => tf.mul(t, z[k]).dataSync() as Float32Array);
      for (let e = 0; e < product.length; e++) diagonal[k][e] += exact ? product[e] : product[e] / probes;
    });
    disposeVector(z);
    disposeVector(hz);
    options.onProgress?.((s + 1) / probes, countDetail('probe', s + 1, probes));
    await new Promise((resolve) => setImmediate(resolve));
  }
  const scalings = new Map(structure.weights.map((w) => [w.name, w]));
  const merged = new Map<string, TraceTerm>();
  let clippedNegative = 0;
  parameters.forEach((p, k) => {
    const scaling = scalings.get(p.name);
    for (let e = 0; e < p.size; e++) {
      const form = scaling ? entryForm(scaling, e) : [];
      const key = JSON.stringify(form);
      const previous = merged.get(key);
      merged.set(key, { form, h: (previous?.h ?? 0) + diagonal[k][e] });
    }
  });
  const terms = [...merged.values()].map((t) => {
    if (t.h < 0 && t.form.length > 0) {
      clippedNegative++;
      return { ...t, h: 0 };
    }
    return t;
  });
  return { terms, clippedNegative };
}
