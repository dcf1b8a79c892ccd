/**
 * The files read for the current job, as absolute paths: the output guard refuses to write over
 * any of them. The CLI runs one job per process and the analyzer process one job at a time, so a
 * process-wide list cleared at the start of each job is exact.
 */
const filesRead = new Set<string>();

export function noteFileRead(absolutePath: string): void {
  filesRead.add(absolutePath);
}

export function filesReadSoFar(): string[] {
  return [...filesRead];
}

export function startNewJobLedger(): void {
  filesRead.clear();
}
