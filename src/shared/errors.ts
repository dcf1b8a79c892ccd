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
