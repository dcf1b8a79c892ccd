/**
 * Every bound on what a file or an option can make the tool do, in one table: the readers, the
 * option parsers and the analyzer protocol check against these values, each message names the
 * limit it hit, `flatness --help` lists them and the README ("Safety and limits") explains them.
 */
export interface Limit {
  readonly value: number;
  /** What is bounded, for messages and the help text. */
  readonly what: string;
  /** The value is a number of bytes (shown as GiB/MiB), not a count. */
  readonly bytes?: boolean;
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

const table = {
  fileBytes: { value: 4 * GiB, what: 'bytes read from one file', bytes: true },
  decompressedBytes: { value: 4 * GiB, what: 'bytes a gzip stream or zip entry may inflate to', bytes: true },
  compressionRatio: { value: 200, what: 'inflated-to-compressed ratio of a zip entry over 64 MiB' },
  textBytes: { value: 512 * MiB, what: 'bytes of a text data file (CSV, JSON) after decompression', bytes: true },
  jsonNesting: { value: 100, what: 'levels of nested lists and objects in a JSON file' },
  shardCount: { value: 10_000, what: 'weight shard files listed by one model.json' },
  tensorElements: { value: 2 ** 31 - 1, what: 'elements in one declared tensor shape' },
  layerUnits: { value: 2 ** 24, what: 'units or channels a layer may declare' },
  inputElements: { value: 2 ** 24, what: 'elements in one input sample (--input-shape)' },
  samples: { value: 10_000_000, what: 'samples used (--samples)' },
  probeSamples: { value: 100_000, what: 'data-free probe inputs (--probe-samples)' },
  probeElements: { value: 2 ** 27, what: 'input values of all probe inputs together (512 MiB of float32)' },
  topK: { value: 1000, what: 'top eigenvalues (--top-k; also at most the number of parameters)' },
  traceSamples: { value: 100_000, what: 'Hutchinson probes (--trace-samples)' },
  subspaceDim: { value: 10_000, what: 'ε-sharpness subspace dimension (--subspace-dim)' },
  directions: { value: 100_000, what: 'volume directions (--directions)' },
  threads: { value: 1024, what: 'ONNX Runtime threads (--threads)' },
  batchSize: { value: 1_000_000, what: 'samples per batch (--batch-size)' },
  alphaFactors: { value: 10_000, what: 'factors in --alpha' },
  dataCandidates: { value: 10_000, what: 'files the data-set picker checks at once' },
  metadataBytes: { value: 64 * MiB, what: 'bytes of a JSON header or description', bytes: true },
  keptInputBytes: { value: 1 * GiB, what: 'bytes of input files one job keeps in memory so that each is read once', bytes: true },
} satisfies Record<string, Limit>;

export type LimitName = keyof typeof table;

export const limits: { readonly [K in LimitName]: Limit } = table;

/** The value in a form people read: 4 GiB, 64 MiB for sizes; counts as they are. */
export function formatLimitValue(value: number, bytes = true): string {
  if (!bytes) return String(value);
  if (value >= GiB && value % GiB === 0) return `${value / GiB} GiB`;
  if (value >= MiB && value % MiB === 0) return `${value / MiB} MiB`;
  return String(value);
}

/** One line per limit, for `--help` and the README table. */
export function limitLines(): string[] {
  return Object.values(limits).map((limit) => `  ${formatLimitValue(limit.value, limit.bytes === true).padStart(10)}  ${limit.what}`);
}
