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

function difference(a: LinearForm, b: LinearForm): LinearForm {
  const m = new Map(a.map(([v, c]) => [v, c]));
  for (const [v, c] of b) m.set(v, (m.get(v) ?? 0) - c);
  return [...m].filter(([, c]) => c !== 0).sort((x, y) => x[0] - y[0]);
}

/** Ids of the distinct forms, so that entries are matched by number rather than by text. */
function internForms(forms: readonly LinearForm[]): { ids: Int32Array; count: number } {
  const byKey = new Map<string, number>();
  const ids = Int32Array.from(forms, (form) => {
    const key = JSON.stringify(form);
    let id = byKey.get(key);
    if (id === undefined) byKey.set(key, (id = byKey.size));
    return id;
  });
  return { ids, count: byKey.size };
}

/**
 * The entries of a weight tensor grouped by their log-factor form (column form minus row form), in
 * order of first appearance. Each entry's form depends only on its output column and input row, so
 * the forms are compared once per distinct (row, column) pair, not once per entry.
 */
function entryGroups(scaling: WeightScaling, size: number): { form: LinearForm; entries: Int32Array }[] {
  const columns = internForms(scaling.columns);
  const rows = scaling.kind === 'kernel' || scaling.kind === 'depthwise' ? internForms(scaling.rows!) : undefined;
  let source: (e: number) => [column: number, row: number];
  if (scaling.kind === 'kernel') {
    const outs = scaling.shape[scaling.shape.length - 1];
    const ins = scaling.shape[scaling.shape.length - 2];
    source = (e) => [e % outs, Math.floor(e / outs) % ins];
  } else if (scaling.kind === 'depthwise') {
    const [, , channels, multiplier] = scaling.shape;
    source = (e) => {
      const c = Math.floor(e / multiplier) % channels;
      return [c * multiplier + (e % multiplier), c];
    };
  } else source = (e) => [e % scaling.columns.length, -1];
  const groupOfPair = new Map<number, number>();
  const groupOfForm = new Map<string, number>();
  const forms: LinearForm[] = [];
  const groupOf = new Int32Array(size);
  for (let e = 0; e < size; e++) {
    const [column, row] = source(e);
    const pair = (row < 0 ? 0 : rows!.ids[row] + 1) * columns.count + columns.ids[column];
    let group = groupOfPair.get(pair);
    if (group === undefined) {
      const form = row < 0 ? scaling.columns[column] : difference(scaling.columns[column], scaling.rows![row]);
      const key = JSON.stringify(form);
      group = groupOfForm.get(key);
      if (group === undefined) {
        groupOfForm.set(key, (group = forms.length));
        forms.push(form);
      }
      groupOfPair.set(pair, group);
    }
    groupOf[e] = group;
  }
  const sizes = new Int32Array(forms.length);
  for (let e = 0; e < size; e++) sizes[groupOf[e]]++;
  const entries = forms.map((_, g) => new Int32Array(sizes[g]));
  const filled = new Int32Array(forms.length);
  for (let e = 0; e < size; e++) entries[groupOf[e]][filled[groupOf[e]]++] = e;
  return forms.map((form, g) => ({ form, entries: entries[g] }));
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
    const byForm = entryGroups(scaling, p.size);
    for (const { form, entries } of byForm) {
      groups.push({ parameter: k, form, size: entries.length, entries: byForm.length === 1 ? undefined : entries });
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
  /**
   * Above this many weight tensors, one joint probe over every parameter serves all groups (as
   * `hessianTrace`'s joint method): `samples` products in all instead of up to `samples` per group.
   */
  readonly maxBlocksForBlockProbes?: number;
  /** Each weight tensor's Tr H_kk, exact (src/engine/exec/onnxruntime/exactTraceGraph.ts): used where every group is a whole tensor. */
  readonly exactBlockTraces?: readonly number[];
}

export interface LayerTraceTerms {
  readonly terms: TraceTerm[];
  /** Standard error of Σ h over the terms. */
  readonly stderr: number;
  readonly method: 'exact' | 'blocks' | 'joint';
  /** Joint method: terms whose estimate was negative (a diagonal sum is ≥ 0 at a minimum; the sign is noise); they, and every estimate below its standard error, are set to that standard error. */
  readonly clippedNegative: number;
  /** Joint method: the whole trace from the same probes, before any clipping (`hessianTrace`'s joint estimate for the same stream). */
  readonly trace?: { readonly estimate: number; readonly stderr: number };
}

/**
 * Trace terms for layer-granularity scalings: the Hessian diagonal summed over each group of entries
 * that scale alike (a whole weight tensor in a chain; one block per input branch after a
 * Concatenate), by Hutchinson probes restricted to the group (exact over unit vectors when the group
 * has at most `samples` entries). Whole-tensor groups use the same random streams as `hessianTrace`,
 * so they reproduce its block traces.
 */
export async function layerTraceTerms(hvp: HessianVectorProduct, parameters: readonly ParameterInfo[], structure: ScaleStructure, options: GroupTraceOptions): Promise<LayerTraceTerms> {
  const groups = groupsOf(structure, parameters);
  const exact = options.exactBlockTraces;
  if (exact && groups.every((g) => !g.entries)) {
    return { terms: groups.map((g) => ({ h: exact[g.parameter], form: g.form, label: parameters[g.parameter].name })), stderr: 0, method: 'exact', clippedNegative: 0 };
  }
  if (parameters.length > (options.maxBlocksForBlockProbes ?? Infinity)) return jointTraceTerms(hvp, parameters, groups, options);
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
  return { terms, stderr: Math.sqrt(variance), method: 'blocks', clippedNegative: 0 };
}

/**
 * The groups' diagonal sums from Rademacher probes over every parameter at once: for each probe z,
 * Σ_{e ∈ group} z_e (Hz)_e, whose mean is the group's diagonal sum (cross-block terms add noise, not
 * bias). The stream is `hessianTrace`'s joint one, so Σ h equals its estimate for the same seed.
 */
async function jointTraceTerms(hvp: HessianVectorProduct, parameters: readonly ParameterInfo[], groups: readonly EntryGroup[], options: GroupTraceOptions): Promise<LayerTraceTerms> {
  const random = options.random.fork('trace:joint');
  const perGroup: number[][] = groups.map(() => []);
  const totals: number[] = [];
  for (let s = 0; s < options.samples; s++) {
    throwIfAborted(options.signal);
    const signs = parameters.map((p) => random.rademachers(p.size));
    const z = parameters.map((p, k) => tf.tensor(signs[k], [...p.shape]));
    const hz = hvp(z);
    // In plain JS: a tfjs op per weight tensor, or tidy() returning a large typed array, costs more than the product itself.
    const products = hz.map((t) => t.dataSync() as Float32Array);
    let total = 0;
    groups.forEach((group, g) => {
      const product = products[group.parameter];
      const sign = signs[group.parameter];
      let sum = 0;
      if (group.entries) for (const e of group.entries) sum += sign[e] * product[e];
      else for (let e = 0; e < product.length; e++) sum += sign[e] * product[e];
      perGroup[g].push(sum);
      total += sum;
    });
    totals.push(total);
    disposeVector(z);
    disposeVector(hz);
    options.onProgress?.((s + 1) / options.samples, countDetail('probe', s + 1, options.samples));
    await new Promise((resolve) => setImmediate(resolve));
  }
  let clippedNegative = 0;
  const terms = groups.map((group, g) => {
    const p = parameters[group.parameter];
    const estimate = meanAndStderr(perGroup[g]);
    let h = estimate.mean;
    // A sum not clearly above its noise is taken as its standard error: 0 would leave its scale unopposed, and the minimizer would push it to an extreme.
    if (h < estimate.stderr && group.form.length > 0) {
      if (h < 0) clippedNegative++;
      h = estimate.stderr;
    }
    return { h, form: group.form, label: group.entries ? `${p.name} (${group.size} entries)` : p.name };
  });
  const trace = meanAndStderr(totals);
  return { terms, stderr: trace.stderr, method: 'joint', clippedNegative, trace: { estimate: trace.mean, stderr: trace.stderr } };
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
      const product = t.dataSync() as Float32Array;
      const direction = z[k].dataSync() as Float32Array;
      for (let e = 0; e < product.length; e++) diagonal[k][e] += (exact ? 1 : 1 / probes) * direction[e] * product[e];
    });
    disposeVector(z);
    disposeVector(hz);
    options.onProgress?.((s + 1) / probes, countDetail('probe', s + 1, probes));
    await new Promise((resolve) => setImmediate(resolve));
  }
  const merged = new Map<string, TraceTerm>();
  let clippedNegative = 0;
  for (const group of groupsOf(structure, parameters)) {
    const values = diagonal[group.parameter];
    let h = 0;
    if (group.entries) for (const e of group.entries) h += values[e];
    else for (let e = 0; e < values.length; e++) h += values[e];
    const key = JSON.stringify(group.form);
    merged.set(key, { form: group.form, h: (merged.get(key)?.h ?? 0) + h });
  }
  const terms = [...merged.values()].map((t) => {
    if (t.h < 0 && t.form.length > 0) {
      clippedNegative++;
      return { ...t, h: 0 };
    }
    return t;
  });
  return { terms, clippedNegative };
}
