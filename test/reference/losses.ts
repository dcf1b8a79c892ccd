/**
 * Test reference only: the engine's loss definitions, written out per sample.
 *
 * - ce:  logsumexp(z) − z[y], or −Σ t_k log softmax(z)_k for soft labels; z are the pre-softmax
 *        values when the output layer ends in softmax, else the output itself.
 * - bce: mean over units of softplus(z) − t·z; z are the pre-sigmoid values when the output layer
 *        ends in sigmoid, else the output itself.
 * - mse: mean over units of (f − t)² on the final output.
 * The loss is the mean of the per-sample losses. Class targets become one-hot for more than one unit.
 */
import type { Targets } from '../../src/engine/model/loss';
import { logSumExp } from './activations';
import { SumAccumulator, div, mul, softplus, sub } from './hyperDual';
import type { Num } from './hyperDual';
import type { NetworkEvaluation } from './network';
import { ReferenceModelError, elementCount } from './referenceTensor';

export type LossKind = 'ce' | 'bce' | 'mse';

export function meanLoss(network: NetworkEvaluation, count: number, targets: Targets, loss: LossKind, outputLayer: string): Num {
  const logitsSource =
    (loss === 'ce' && network.finalActivation === 'softmax') || (loss === 'bce' && network.finalActivation === 'sigmoid')
      ? network.beforeFinalActivation
      : network.output;
  if (loss === 'ce' && logitsSource.shape.length !== 2) {
    throw new ReferenceModelError(outputLayer, `cross-entropy needs a [batch, classes] output, found [${logitsSource.shape.join(', ')}]`);
  }
  const width = elementCount(logitsSource.shape.slice(1));
  if (logitsSource.shape[0] !== count) {
    throw new ReferenceModelError(outputLayer, `expected ${count} samples in the output, found ${logitsSource.shape[0]}`);
  }
  const targetRow = targetRowReader(targets, count, width, loss, outputLayer);
  const total = new SumAccumulator();
  for (let n = 0; n < count; n++) {
    const z = logitsSource.data.slice(n * width, (n + 1) * width);
    const t = targetRow(n);
    total.add(sampleLoss(z, t, loss, width));
  }
  return div(total.result(), count);
}

function sampleLoss(z: readonly Num[], t: Float64Array, loss: LossKind, width: number): Num {
  const sum = new SumAccumulator();
  switch (loss) {
    case 'ce': {
      const normalizer = logSumExp(z);
      for (let k = 0; k < width; k++) {
        if (t[k] !== 0) sum.addProduct(t[k], sub(normalizer, z[k]));
      }
      return sum.result();
    }
    case 'bce':
      for (let k = 0; k < width; k++) {
        sum.add(softplus(z[k]));
        sum.addProduct(-t[k], z[k]);
      }
      return div(sum.result(), width);
    case 'mse':
      for (let k = 0; k < width; k++) {
        const residual = sub(z[k], t[k]);
        sum.add(mul(residual, residual));
      }
      return div(sum.result(), width);
  }
}

/** Returns the target row of sample n as `width` float64 values (one-hot for class targets). */
function targetRowReader(
  targets: Targets,
  count: number,
  width: number,
  loss: LossKind,
  outputLayer: string,
): (n: number) => Float64Array {
  if (targets.kind === 'values') {
    if (targets.width !== width || targets.values.length !== count * width) {
      throw new ReferenceModelError(
        outputLayer,
        `expected ${count}×${width} target values, found width ${targets.width} and ${targets.values.length} values`,
      );
    }
    return (n) => Float64Array.from(targets.values.subarray(n * width, (n + 1) * width));
  }
  if (targets.classes.length !== count) {
    throw new ReferenceModelError(outputLayer, `expected ${count} class targets, found ${targets.classes.length}`);
  }
  const singleBinaryUnit = width === 1 && loss !== 'ce';
  return (n) => {
    const label = targets.classes[n];
    const row = new Float64Array(width);
    if (singleBinaryUnit) {
      if (label !== 0 && label !== 1) {
        throw new ReferenceModelError(outputLayer, `a single output unit needs class 0 or 1, found ${label}`);
      }
      row[0] = label;
      return row;
    }
    if (!Number.isInteger(label) || label < 0 || label >= width) {
      throw new ReferenceModelError(outputLayer, `class ${label} of sample ${n} is outside 0..${width - 1}`);
    }
    row[label] = 1;
    return row;
  };
}
