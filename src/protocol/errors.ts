/** What kind of failure, so the extension can word it (and retry or not). */
export type FailureKind = 'file' | 'model' | 'refused' | 'cancelled' | 'internal';

/** An error about a file the user gave us: says which file and what is wrong with it. */
export class FileProblem extends Error {
  constructor(readonly file: string, readonly problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'FileProblem';
  }
}

/** An error about a model's structure (unsupported layer, shape mismatch), naming the layer. */
export class ModelProblem extends Error {
  constructor(readonly layer: string, readonly problem: string) {
    super(`layer '${layer}': ${problem}`);
    this.name = 'ModelProblem';
  }
}

/** A rescaling that would not keep the network's function, or has nothing to rescale. */
export class RescaleRefused extends Error {
  constructor(readonly checkpoint: string, readonly reason: string) {
    super(`${checkpoint}: cannot rescale: ${reason}`);
    this.name = 'RescaleRefused';
  }
}

/** A setting or request over one of the limits in limits.ts, or out of range for this network. */
export class LimitExceeded extends Error {
  constructor(readonly setting: string, readonly problem: string) {
    super(`${setting}: ${problem}`);
    this.name = 'LimitExceeded';
  }
}

/** Raised when the caller's AbortSignal fires. */
export class Cancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'Cancelled';
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new Cancelled();
}

/** How the analyzer process and the CLI classify a failure: the user's input, or a fault of ours. */
export function failureKind(error: unknown): FailureKind {
  if (error instanceof Cancelled) return 'cancelled';
  if (error instanceof FileProblem) return 'file';
  if (error instanceof ModelProblem) return 'model';
  if (error instanceof RescaleRefused || error instanceof LimitExceeded) return 'refused';
  return 'internal';
}
