import type { TrainingRunSeries } from '../../protocol/trajectory';

/**
 * Finds training runs among checkpoint paths: files whose paths differ by a step or epoch number
 * (`epoch_003/model.json`, `ckpt-12000.safetensors`, `checkpoint-500/model.safetensors`), ordered by
 * that number. Pure: the caller lists the files (relative to `root`, `/`-separated) and has already
 * dropped what is no checkpoint.
 */

const stepWords = /^(step|steps|global_?step|iter|iters|iteration|iterations|it|ckpt|checkpoint|checkpoints|batch|update|updates|s)$/i;
const epochWords = /^(epoch|epochs|ep|e)$/i;
const aliasWords = /(^|[^a-z])(latest|last|best|final)([^a-z]|$)/i;

interface NumberField {
  readonly start: number;
  readonly end: number;
  readonly value: number;
  /** The word right before the number in its path segment, lower case ('' when none). */
  readonly word: string;
}

interface Parsed {
  readonly path: string;
  readonly template: string;
  readonly fields: readonly NumberField[];
}

function parse(file: string): Parsed {
  const fields: NumberField[] = [];
  for (const match of file.matchAll(/\d+/g)) {
    const start = match.index;
    const segmentStart = file.lastIndexOf('/', start - 1) + 1;
    const before = file.slice(segmentStart, start);
    const word = /([A-Za-z]+)[^A-Za-z0-9]*$/.exec(before)?.[1]?.toLowerCase() ?? '';
    fields.push({ start, end: start + match[0].length, value: Number(match[0]), word });
  }
  return { path: file, template: file.replace(/\d+/g, '#'), fields };
}

function counts(word: string): TrainingRunSeries['counts'] {
  if (stepWords.test(word)) return 'step';
  if (epochWords.test(word)) return 'epoch';
  return 'number';
}

/** The field that numbers the checkpoints: named by a step or epoch word if one is, else the one with most distinct values, the later on ties. */
function stepField(members: readonly Parsed[]): number | undefined {
  const fieldCount = members[0].fields.length;
  let best: { index: number; rank: number; distinct: number } | undefined;
  for (let j = 0; j < fieldCount; j++) {
    const distinct = new Set(members.map((m) => m.fields[j].value)).size;
    if (distinct < 2) continue;
    const kind = counts(members[0].fields[j].word);
    const rank = kind === 'step' ? 2 : kind === 'epoch' ? 1 : 0;
    if (!best || rank > best.rank || (rank === best.rank && distinct >= best.distinct)) best = { index: j, rank, distinct };
  }
  return best?.index;
}

function patternOf(member: Parsed, step: number, identity: ReadonlySet<number>): string {
  let out = '';
  let at = 0;
  member.fields.forEach((field, j) => {
    out += member.path.slice(at, field.start);
    out += j === step ? '{step}' : identity.has(j) ? member.path.slice(field.start, field.end) : '*';
    at = field.end;
  });
  return out + member.path.slice(at);
}

function constantFields(members: readonly Parsed[]): Set<number> {
  const constant = new Set<number>();
  members[0].fields.forEach((_, j) => {
    if (new Set(members.map((m) => m.path.slice(m.fields[j].start, m.fields[j].end))).size === 1) constant.add(j);
  });
  return constant;
}

/** Splits one template group into runs: fields with few distinct values (a seed, a run number) tell runs apart. */
function runsOfGroup(members: readonly Parsed[]): { pattern: string; counts: TrainingRunSeries['counts']; checkpoints: { step: number; path: string }[] }[] {
  const step = stepField(members);
  if (step === undefined) return [];
  const constant = constantFields(members);
  const identity = new Set<number>(constant);
  members[0].fields.forEach((_, j) => {
    if (j === step || constant.has(j)) return;
    if (new Set(members.map((m) => m.fields[j].value)).size <= members.length / 2) identity.add(j);
  });
  const partitions = new Map<string, Parsed[]>();
  for (const member of members) {
    const key = [...identity].map((j) => member.path.slice(member.fields[j].start, member.fields[j].end)).join('/');
    partitions.set(key, [...(partitions.get(key) ?? []), member]);
  }
  const runs = [];
  for (const partition of partitions.values()) {
    const byStep = new Map<number, string>();
    for (const member of [...partition].sort((a, b) => a.path.localeCompare(b.path))) {
      const value = member.fields[step].value;
      if (!byStep.has(value)) byStep.set(value, member.path);
    }
    if (byStep.size < 2) continue;
    const checkpoints = [...byStep].map(([value, file]) => ({ step: value, path: file })).sort((a, b) => a.step - b.step);
    runs.push({ pattern: patternOf(partition[0], step, identity), counts: counts(partition[0].fields[step].word), checkpoints });
  }
  return runs;
}

/** The folder part of a pattern before the segment holding `{step}` ('' for the root). */
function runFolder(pattern: string): string {
  const at = pattern.indexOf('{step}');
  const slash = pattern.lastIndexOf('/', at);
  return slash < 0 ? '' : pattern.slice(0, slash + 1);
}

function aliasesOf(pattern: string, files: readonly string[], inSeries: ReadonlySet<string>): string[] {
  const folder = runFolder(pattern);
  const extension = /\.[A-Za-z0-9]+$/.exec(pattern)?.[0] ?? '';
  return files.filter((file) => !inSeries.has(file) && file.startsWith(folder) && file.endsWith(extension) && aliasWords.test(file.slice(folder.length))).sort();
}

/**
 * Every training run among `files` (paths relative to `root`): two or more checkpoints whose paths
 * differ by a number. Zero padding does not matter; a file format is part of the pattern, so the
 * same run saved as .pt and .onnx is two series.
 */
export function detectTrainingRuns(root: string, files: readonly string[]): TrainingRunSeries[] {
  const groups = new Map<string, Parsed[]>();
  for (const file of files) {
    const parsed = parse(file);
    if (parsed.fields.length === 0) continue;
    groups.set(parsed.template, [...(groups.get(parsed.template) ?? []), parsed]);
  }
  const runs = [...groups.values()].filter((g) => g.length >= 2).flatMap(runsOfGroup);
  const inSeries = new Set(runs.flatMap((r) => r.checkpoints.map((c) => c.path)));
  return runs
    .map((run) => ({ root, ...run, aliases: aliasesOf(run.pattern, files, inSeries) }))
    .sort((a, b) => a.pattern.localeCompare(b.pattern));
}

/** A user's pattern: `{step}` marks the number, `*` any part of one path segment, `**` any folders. */
export function patternProblem(pattern: string): string | undefined {
  const steps = pattern.split('{step}').length - 1;
  if (steps !== 1) return `a run pattern needs exactly one {step}, e.g. 'checkpoints/ckpt-{step}.pt'; got '${pattern}'`;
  return undefined;
}

function patternRegExp(pattern: string): RegExp {
  const escaped = pattern
    .split('{step}')
    .map((part) =>
      part
        .split('**')
        .map((p) => p.split('*').map((q) => q.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*'))
        .join('.*'),
    )
    .join('(\\d+)');
  return new RegExp(`^${escaped}$`);
}

/** The run the user's pattern describes, or undefined when fewer than two files match it. */
export function trainingRunFromPattern(root: string, files: readonly string[], pattern: string): TrainingRunSeries | undefined {
  const problem = patternProblem(pattern);
  if (problem) throw new Error(problem);
  const regexp = patternRegExp(pattern);
  const byStep = new Map<number, string>();
  for (const file of [...files].sort()) {
    const match = regexp.exec(file);
    if (match && !byStep.has(Number(match[1]))) byStep.set(Number(match[1]), file);
  }
  if (byStep.size < 2) return undefined;
  const checkpoints = [...byStep].map(([step, file]) => ({ step, path: file })).sort((a, b) => a.step - b.step);
  const before = pattern.slice(0, pattern.indexOf('{step}'));
  const word = /([A-Za-z]+)[^A-Za-z0-9]*$/.exec(before.slice(before.lastIndexOf('/') + 1))?.[1] ?? '';
  const inSeries = new Set(checkpoints.map((c) => c.path));
  return { root, pattern, counts: counts(word), checkpoints, aliases: aliasesOf(pattern, files, inSeries) };
}
