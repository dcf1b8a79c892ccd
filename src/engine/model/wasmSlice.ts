import * as tf from '@tensorflow/tfjs-core';

/**
 * A Slice kernel for the wasm backend that copies inside the wasm heap. The stock kernel first copies
 * the whole input out of the heap (readSync) and then copies row by row: ~40x slower than a pad of
 * the same tensor. Window operations (convolution, pooling) slice on every Hessian-vector product.
 */
interface WasmTensorData {
  memoryOffset: number;
}
interface WasmBackendInternals {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(id: object): WasmTensorData };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

export function registerFastWasmSlice(): void {
  const stock = tf.getKernel(tf.Slice, 'wasm');
  if (!stock) return;
  tf.unregisterKernel(tf.Slice, 'wasm');
  tf.registerKernel({
    kernelName: tf.Slice,
    backendName: 'wasm',
    kernelFunc: (args) => {
      const x = args.inputs.x as tf.TensorInfo;
      if (x.dtype === 'string') return stock.kernelFunc(args);
      const backend = args.backend as unknown as WasmBackendInternals;
      const { begin: beginAttr, size: sizeAttr } = args.attrs as unknown as tf.SliceAttrs;
      const [begin, size] = tf.slice_util.parseSliceParams(x as tf.Tensor, beginAttr, sizeAttr);
      const out = backend.makeOutput(size, x.dtype);
      const count = size.reduce((a, b) => a * b, 1);
      if (count === 0) return out;
      const bytes = tf.util.bytesPerElement(x.dtype);
      const heap = backend.wasm.HEAPU8; // read after makeOutput: allocation may grow the heap
      const source = backend.dataIdMap.get(x.dataId).memoryOffset;
      const target = backend.dataIdMap.get(out.dataId).memoryOffset;
      const shape = x.shape;
      const rank = shape.length;
      const strides = new Array<number>(rank);
      for (let j = rank - 1, s = 1; j >= 0; j--) {
        strides[j] = s;
        s *= shape[j];
      }
      // The innermost run that is contiguous in the input: full trailing axes plus one partial axis.
      let k = rank - 1;
      while (k > 0 && size[k] === shape[k]) k--;
      const run = size[k] * strides[k];
      const outer = size.slice(0, k);
      const counter = new Array<number>(k).fill(0);
      let written = 0;
      for (;;) {
        let offset = begin[k] * strides[k];
        for (let j = 0; j < k; j++) offset += (begin[j] + counter[j]) * strides[j];
        heap.copyWithin(target + written * bytes, source + offset * bytes, source + (offset + run) * bytes);
        written += run;
        let j = k - 1;
        while (j >= 0 && ++counter[j] === outer[j]) counter[j--] = 0;
        if (j < 0) break;
      }
      return out;
    },
  });
}
