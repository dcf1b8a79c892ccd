/**
 * The files read for the current job, as absolute paths: the output guard refuses to write over
 * any of them. The CLI runs one job per process and the analyzer process one job at a time, so a
 * process-wide list cleared at the start of each job is exact.
 *
 * Beside it, while a job runs, the bytes it keeps of the files it read (by real path), so that
 * matching a format, reading and hashing take them from memory instead of the disk
 * (src/engine/io/jobFiles.ts). Outside a job (a library call, a test) nothing is kept.
 */
const filesRead = new Set<string>();

export interface KeptFile {
  readonly bytes: Uint8Array;
  /** What the file was when it was read: a later change makes the kept bytes stale. */
  readonly identity: string;
  /** Hex SHA-256 of `bytes`, once someone asked for it. */
  sha256?: Promise<string>;
}

/** Kept bytes by real path; a pending read is kept too, so two readers at once share one read. */
export const keptFiles = new Map<string, Promise<KeptFile>>();
export const keptSizes = new Map<string, number>();
let jobRunning = false;

export function noteFileRead(absolutePath: string): void {
  filesRead.add(absolutePath);
}

export function filesReadSoFar(): string[] {
  return [...filesRead];
}

/** Whether a job runs, so that what it reads may be kept until it ends. */
export function keepingFiles(): boolean {
  return jobRunning;
}

/** Drops the kept bytes (the job is done with them); the list of files read stays. */
export function releaseKeptFiles(): void {
  keptFiles.clear();
  keptSizes.clear();
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
