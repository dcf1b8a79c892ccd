import type { Targets } from '../model/loss';
import type { Shape } from '../model/spec';

/** A labelled data set held in memory as float32, one sample after another (row-major). */
export interface Dataset {
  /** The file it came from, or a description for generated data. */
  readonly source: string;
  readonly count: number;
  /** Shape of one input sample as stored (e.g. [64], [28, 28], [8, 8, 1]). */
  readonly sampleShape: Shape;
  readonly inputs: Float32Array;
  readonly targets: Targets;
}
