/**
 * Gram-Schmidt passes on ONNX Runtime: C = V Qᵀ (a Gemm with Q transposed in place, no copy of the
 * basis), then V − C Q. The basis is fed by reference, so a step costs two passes over it in native
 * code instead of JavaScript's.
 */
import type { ProjectionRunner } from '../matrixProducts';
import { encodeModel } from './onnxModel';
import { GraphSession, type RuntimeOptions } from './runtime';

export function onnxProjections(options: RuntimeOptions): ProjectionRunner & { dispose(): void } {
  const sessions = new Map<number, GraphSession>();
  const session = (dimension: number) => {
    let s = sessions.get(dimension);
    if (!s) {
      const model = encodeModel(
        {
          nodes: [
            { op: 'Gemm', inputs: ['v', 'q'], outputs: ['c'], attributes: { transB: 1 } },
            { op: 'MatMul', inputs: ['c', 'q'], outputs: ['p'] },
            { op: 'Sub', inputs: ['v', 'p'], outputs: ['out'] },
          ],
          initializers: [],
          inputs: [
            { name: 'q', shape: [-1, dimension], type: 'float' },
            { name: 'v', shape: [-1, dimension], type: 'float' },
          ],
          outputs: [{ name: 'out', shape: [-1, dimension], type: 'float' }],
        },
        'projections',
      );
      sessions.set(dimension, (s = new GraphSession(model, options)));
    }
    return s;
  };
  return {
    minimumDimension: 1 << 16,
    subtract(vectors, basis, rows) {
      if (rows === 0 || vectors.length === 0) return;
      const n = vectors[0].length;
      const stacked = new Float32Array(vectors.length * n);
      vectors.forEach((v, k) => stacked.set(v, k * n));
      const { out } = session(n).run({ q: { data: basis.subarray(0, rows * n), shape: [rows, n] }, v: { data: stacked, shape: [vectors.length, n] } }, ['out']);
      vectors.forEach((v, k) => v.set(out.subarray(k * n, (k + 1) * n)));
    },
    dispose() {
      for (const s of sessions.values()) s.dispose();
      sessions.clear();
    },
  };
}
