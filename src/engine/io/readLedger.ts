/**
 * The files read for the current job, as absolute paths: the output guard refuses to write over
 * any of them. The CLI runs one job per process and the analyzer process one job at a time, so a
 * process-wide list cleared at the start of each job is exact.
 *
 * Beside it, while a job runs, the bytes it keeps of the files it read (by real path), so that
 * matching a format, reading and hashing take them from memory instead of the disk
 * (src/engine/io/jobFiles.ts). Outside a job (a library call, a test) nothing is kept.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const filesRead = new Set<string>();

export interface KeptFile {
  readonly bytes: Uint8Array;
  /** What the file was when it was read: a later change makes the kept bytes stale. */
  readonly identity: string;
  /** Hex SHA-256 of `bytes`, once someone asked for it. */
  sha256?: Promise<string>;
}

/** Kept bytes by real path (a pending read is kept too, so two readers at once share one read), and their sizes. */
export interface KeptFiles {
  readonly files: Map<string, Promise<KeptFile>>;
  readonly sizes: Map<string, number>;
}

const jobFiles: KeptFiles = { files: new Map(), sizes: new Map() };
/** Work with files of its own (or, 'none', that keeps no file at all), apart from the running job. */
const ownFiles = new AsyncLocalStorage<KeptFiles | 'none'>();
let jobRunning = false;

export function noteFileRead(absolutePath: string): void {
  filesRead.add(absolutePath);
}

export function filesReadSoFar(): string[] {
  return [...filesRead];
}

/** Where the current work keeps the files it read: its own store, the running job's, or none outside a job. */
export function keptFiles(): KeptFiles | undefined {
  const own = ownFiles.getStore();
  if (own === 'none') return undefined;
  return own ?? (jobRunning ? jobFiles : undefined);
}

/**
 * Runs `work` with kept files of its own (none at all unless `keep`), apart from a job running
 * beside it: the analyzer process describes a checkpoint for the view while it analyzes another.
 */
export function withOwnKeptFiles<T>(work: () => Promise<T>, keep = true): Promise<T> {
  return ownFiles.run(keep ? { files: new Map(), sizes: new Map() } : 'none', work);
}

/** Drops the job's kept bytes (it is done with them); the list of files read stays. */
export function releaseKeptFiles(): void {
  jobFiles.files.clear();
  jobFiles.sizes.clear();
}

export function startNewJobLedger(): void {
  filesRead.clear();
  releaseKeptFiles();
  jobRunning = true;
}

/** The job is over: its kept bytes are freed and nothing more is kept until the next job starts. */
export function endJobLedger(): void {
  releaseKeptFiles();
  jobRunning = false;
}
