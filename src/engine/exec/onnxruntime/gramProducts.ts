/**
 * Gram products AᵀA v or A Aᵀ v of a stored kernel on ONNX Runtime: two matrix-vector products with
 * no transposed copy of A (the second multiplies by the row vector (Av)ᵀ from the left).
 */
import type { GramProduct, GramProductFactory } from '../matrixProducts';
import { encodeModel } from './onnxModel';
import { GraphSession, type RuntimeOptions } from './runtime';

/** Below this many values the float64 JavaScript product is fast enough and exact to float64. */
export const smallestMatrixForOnnxRuntime = 1 << 20;

export function onnxGramProducts(options: RuntimeOptions): GramProductFactory {
  return (a, rows, cols) => (a.length >= smallestMatrixForOnnxRuntime ? new OnnxGramProduct(a, rows, cols, options) : undefined);
}

class OnnxGramProduct implements GramProduct {
  private readonly session: GraphSession;
  private readonly onColumns: boolean;
  private readonly vector: Float32Array;

  constructor(
    private readonly a: Float32Array,
    private readonly rows: number,
    private readonly cols: number,
    options: RuntimeOptions,
  ) {
    this.onColumns = cols <= rows;
    const n = this.onColumns ? cols : rows;
    this.vector = new Float32Array(n);
    // onColumns: m = A v ([rows, 1]), gᵀ = mᵀ A ([1, cols]). Otherwise: mᵀ = vᵀ A ([1, cols]), g = A m ([rows, 1]).
    const nodes = this.onColumns
      ? [
          { op: 'MatMul', inputs: ['a', 'v'], outputs: ['m'] },
          { op: 'Reshape', inputs: ['m', 'row'], outputs: ['mRow'] },
          { op: 'MatMul', inputs: ['mRow', 'a'], outputs: ['g'] },
        ]
      : [
          { op: 'MatMul', inputs: ['v', 'a'], outputs: ['mRow'] },
          { op: 'Reshape', inputs: ['mRow', 'column'], outputs: ['m'] },
          { op: 'MatMul', inputs: ['a', 'm'], outputs: ['g'] },
        ];
    const model = encodeModel(
      {
        nodes,
        initializers: [
          { name: 'row', shape: [2], values: BigInt64Array.from([1n, -1n]) },
          { name: 'column', shape: [2], values: BigInt64Array.from([-1n, 1n]) },
        ].filter((init) => nodes.some((node) => node.inputs.includes(init.name))),
        inputs: [
          { name: 'a', shape: [rows, cols], type: 'float' },
          { name: 'v', shape: this.onColumns ? [cols, 1] : [1, rows], type: 'float' },
        ],
        outputs: [{ name: 'g', shape: this.onColumns ? [1, cols] : [rows, 1], type: 'float' }],
      },
      'gram-product',
    );
    this.session = new GraphSession(model, options);
  }

  product(v: Float64Array): Float64Array {
    this.vector.set(v);
    const shape = this.onColumns ? [this.cols, 1] : [1, this.rows];
    const { g } = this.session.run({ a: { data: this.a, shape: [this.rows, this.cols] }, v: { data: this.vector, shape } }, ['g']);
    return Float64Array.from(g);
  }

  dispose(): void {
    this.session.dispose();
  }
}
