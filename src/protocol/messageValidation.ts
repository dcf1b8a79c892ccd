/**
 * Hand-written checks of the messages the analyzer process receives, one per message type: the
 * process trusts nothing its client sends. Each check returns the first problem, naming the field
 * (`request.settings.eigenvalues.count`), or undefined when the value fits the types in
 * analyzerProtocol.ts and requests.ts and the limits in limits.ts.
 */
import { limits, type Limit } from './limits';
import { metricNames } from './report';

type Check = (value: unknown, at: string) => string | undefined;

const describe = (value: unknown): string => {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
};

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const string: Check = (v, at) => (typeof v === 'string' && v.length > 0 && v.length <= 4096 && !v.includes('\0') ? undefined : `${at} must be a non-empty path or name without NUL characters, got ${describe(v)}`);
const boolean: Check = (v, at) => (typeof v === 'boolean' ? undefined : `${at} must be true or false, got ${describe(v)}`);
const oneOf =
  (...choices: readonly string[]): Check =>
  (v, at) =>
    typeof v === 'string' && choices.includes(v) ? undefined : `${at} must be one of ${choices.join(', ')}, got ${describe(v)}`;
const integer =
  (min: number, max: number, limit?: Limit): Check =>
  (v, at) =>
    typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? undefined : `${at} must be an integer from ${min} to ${max}${limit ? ` (the limit on ${limit.what})` : ''}, got ${describe(v)}`;
const count = (limit: Limit): Check => integer(1, limit.value, limit);
const positive =
  (max = Number.MAX_VALUE): Check =>
  (v, at) =>
    typeof v === 'number' && Number.isFinite(v) && v > 0 && v <= max ? undefined : `${at} must be a positive finite number${max < Number.MAX_VALUE ? ` up to ${max}` : ''}, got ${describe(v)}`;
const list =
  (item: Check, maxLength: number): Check =>
  (v, at) => {
    if (!Array.isArray(v)) return `${at} must be a list, got ${describe(v)}`;
    if (v.length > maxLength) return `${at} lists ${v.length} items, more than ${maxLength}`;
    for (const [i, x] of v.entries()) {
      const problem = item(x, `${at}[${i}]`);
      if (problem) return problem;
    }
    return undefined;
  };
const either =
  (...checks: Check[]): Check =>
  (v, at) => {
    const problems = checks.map((c) => c(v, at));
    return problems.some((p) => p === undefined) ? undefined : problems[0];
  };

/** An object with only the named fields, each optional unless listed in `required`. */
const object =
  (fields: Readonly<Record<string, Check>>, required: readonly string[] = []): Check =>
  (v, at) => {
    if (!isRecord(v)) return `${at} must be an object, got ${describe(v)}`;
    for (const key of Object.keys(v)) if (!(key in fields)) return `${at} has an unknown field '${key.slice(0, 40)}'`;
    for (const [key, check] of Object.entries(fields)) {
      if (v[key] === undefined) {
        if (required.includes(key)) return `${at}.${key} is missing`;
        continue;
      }
      const problem = check(v[key], `${at}.${key}`);
      if (problem) return problem;
    }
    return undefined;
  };

const steps = integer(1, 100_000);
const settings = object({
  eigenvalues: object({ count: count(limits.topK), maxSteps: steps, tolerance: positive(1), blockMaxSteps: integer(0, 100_000) }),
  trace: object({ samples: count(limits.traceSamples), tolerance: positive(1), blockSamples: count(limits.traceSamples), maxBlocksForBlockProbes: integer(0, 100_000) }),
  density: object({ runs: integer(1, 1000), steps: integer(1, 10_000) }),
  sharpness: object({ epsilon: positive(1e6), subspaceDim: count(limits.subspaceDim), iterations: integer(1, 10_000), restarts: integer(0, 1000) }),
  volume: object({ epsilon: positive(1e6), directions: count(limits.directions), cap: positive(1e12), bisections: integer(1, 100) }),
  landscape: object({ radius: positive(1e6), points: integer(2, 10_000), surfacePoints: integer(2, 1000) }),
  invariant: object({ asamRho: positive(1e6), asamEta: positive(1e6) }),
  batchSize: count(limits.batchSize),
});

const inputShape: Check = (v, at) => {
  const problem = list(integer(1, limits.inputElements.value), 16)(v, at);
  if (problem) return problem;
  const elements = (v as number[]).reduce((a, b) => a * b, 1);
  return elements > limits.inputElements.value ? `${at} has ${elements} elements, over the limit of ${limits.inputElements.value} (${limits.inputElements.what})` : undefined;
};

const inputFields: Record<string, Check> = {
  checkpoint: string,
  architecture: string,
  data: string,
  dataOptions: object({ labelColumn: either(integer(-1_000_000, 1_000_000), oneOf('first', 'last')), header: boolean, inputKey: string, labelKey: string, scale: boolean }),
  loss: oneOf('ce', 'bce', 'mse'),
  samples: count(limits.samples),
  probeSamples: count(limits.probeSamples),
  seed: integer(0, 0xffffffff),
  backend: oneOf('auto', 'onnxruntime', 'tensorflow', 'wasm', 'cpu'),
  threads: count(limits.threads),
  device: oneOf('cpu', 'cuda'),
  inputShape,
  allowNonFinite: boolean,
};

export const checkInputRequest: Check = object(inputFields, ['checkpoint']);

export const checkAnalysisRequest: Check = object({ ...inputFields, metrics: list(oneOf(...metricNames), metricNames.length), settings }, ['checkpoint']);

export const checkRescaleRequest: Check = (v, at) => {
  const problem = object(
    {
      ...inputFields,
      mode: oneOf('flatten', 'sharpen', 'alpha'),
      factor: positive(1e12),
      alphas: list(positive(), limits.alphaFactors.value),
      granularity: oneOf('layer', 'unit'),
      objective: oneOf('trace', 'lambda-max'),
      traceSamples: count(limits.traceSamples),
      tolerance: positive(1),
    },
    ['checkpoint', 'mode'],
  )(v, at);
  if (problem) return problem;
  const request = v as { mode: string; factor?: number; alphas?: unknown };
  if (request.mode === 'sharpen' && request.factor !== undefined && request.factor <= 1) return `${at}.factor must be greater than 1 to sharpen, got ${request.factor}`;
  if (request.mode === 'alpha' && request.alphas === undefined) return `${at}.alphas is missing (mode 'alpha' needs one factor per layer)`;
  return undefined;
};

const id = integer(1, Number.MAX_SAFE_INTEGER);

/** The problem with a message sent to the analyzer process, or undefined when it is well formed. */
export function toAnalyzerMessageProblem(value: unknown): string | undefined {
  if (!isRecord(value)) return `a message must be an object, got ${describe(value)}`;
  switch (value.type) {
    case 'cancel':
      return object({ type: oneOf('cancel'), id }, ['type', 'id'])(value, 'message');
    case 'analyze':
      return object({ type: oneOf('analyze'), id, request: checkAnalysisRequest }, ['type', 'id', 'request'])(value, 'message');
    case 'rescale':
      return object({ type: oneOf('rescale'), id, request: checkRescaleRequest, out: string }, ['type', 'id', 'request'])(value, 'message');
    case 'compareOutputs':
      return object({ type: oneOf('compareOutputs'), id, request: object({ first: checkInputRequest, second: string }, ['first', 'second']) }, ['type', 'id', 'request'])(value, 'message');
    case 'dataCandidates': {
      const model = object({ checkpoint: string, architecture: string, inputShape }, ['checkpoint']);
      return object({ type: oneOf('dataCandidates'), id, request: object({ model, files: list(string, limits.dataCandidates.value) }, ['model', 'files']) }, ['type', 'id', 'request'])(value, 'message');
    }
    case 'describe':
      return object({ type: oneOf('describe'), id, request: object({ checkpoint: string, contentHash: boolean }, ['checkpoint', 'contentHash']) }, ['type', 'id', 'request'])(value, 'message');
    default:
      return `message.type must be one of analyze, rescale, compareOutputs, dataCandidates, describe, cancel, got ${describe(value.type)}`;
  }
}

/** The message's id when it has a usable one, so a refusal can be addressed to the job. */
export function messageId(value: unknown): number | undefined {
  return isRecord(value) && id(value.id, 'id') === undefined ? (value.id as number) : undefined;
}
