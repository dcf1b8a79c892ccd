import * as tf from '@tensorflow/tfjs-core';
import { prepareInputs } from '../analysis/analyzeFile';
import { readCheckpoint } from '../formats/registry';
import { withInputShape } from '../model/inputShape';
import { NetworkFunction } from '../model/network';
import type { FunctionComparison, FunctionComparisonRequest } from '../../protocol/analyzerProtocol';

/**
 * Evaluates two checkpoints on the same inputs — the first's data set, or its probe inputs — and
 * measures how far apart their outputs are: "same function" when the deviation is at float32 noise.
 */
export async function compareFunctions(request: FunctionComparisonRequest): Promise<FunctionComparison> {
  const first = await prepareInputs(request.first);
  const second = new NetworkFunction(withInputShape(await readCheckpoint(request.second, { allowNonFinite: request.first.allowNonFinite }), request.first.inputShape));
  try {
    const { dataset } = first;
    if (second.inputShape.join(',') !== first.network.inputShape.join(',')) return { maxOutputDeviation: null, samples: dataset.count };
    const perSample = dataset.inputs.length / dataset.count;
    let scale = 0;
    let deviation = 0;
    let comparable = true;
    for (let start = 0; start < dataset.count && comparable; start += 512) {
      const count = Math.min(512, dataset.count - start);
      tf.tidy(() => {
        const x = tf.tensor(dataset.inputs.subarray(start * perSample, (start + count) * perSample), [count, ...first.network.inputShape]);
        const a = first.network.forward(first.network.initialParameters(), x).dataSync();
        const b = second.forward(second.initialParameters(), x).dataSync();
        if (a.length !== b.length) {
          comparable = false;
          return;
        }
        for (let i = 0; i < a.length; i++) {
          scale = Math.max(scale, Math.abs(a[i]));
          deviation = Math.max(deviation, Math.abs(a[i] - b[i]));
        }
      });
    }
    return { maxOutputDeviation: comparable ? deviation / Math.max(scale, 1e-30) : null, samples: dataset.count };
  } finally {
    first.network.dispose();
    second.dispose();
  }
}
