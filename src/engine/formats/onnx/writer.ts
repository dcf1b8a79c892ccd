/**
 * Writes a checkpoint read from an ONNX file back as a new `.onnx` file: the source bytes with only
 * the weight initializers' data replaced (converted back to ONNX layouts and data types), and
 * provenance in `metadata_props` under PROVENANCE_KEY. Opsets, producer, names, nodes and unknown
 * fields keep their bytes. Weights stored externally are written inline (one self-contained file).
 */
import { basename, resolve } from 'node:path';
import type { Checkpoint } from '../../model/spec';
import { FileProblem } from '../../../protocol/errors';
import { writeNewFilesAtomically } from '../../io/atomicWrite';
import { weightsToWrite } from '../weightsToWrite';
import type { WriteOptions } from '../checkpointFormat';
import { toOnnx } from './layouts';
import { GraphField, ModelField, decodeTensor } from './proto';
import { decodeOnnx, isOnnxSource } from './source';
import { encodeTensorWithValues } from './tensors';
import { concatBytes, lengthDelimitedField, parseMessage, stringField, stringOf } from './wire';

/** The metadata_props key holding Flatness Lens's provenance (a JSON object). */
export const PROVENANCE_KEY = 'flatnessLens';

export async function writeOnnx(checkpoint: Checkpoint, outPath: string, options: WriteOptions): Promise<string[]> {
  const out = resolve(outPath);
  if (!out.toLowerCase().endsWith('.onnx') || basename(out).length <= '.onnx'.length) throw new FileProblem(out, 'an ONNX model is written as <name>.onnx');
  const source = checkpoint.source;
  if (!isOnnxSource(source)) throw new FileProblem(out, `only checkpoints read from an ONNX file can be written as ONNX (${checkpoint.path} is ${checkpoint.format})`);
  const bytes = source.onnxBytes;
  const onnx = decodeOnnx(bytes, checkpoint.path);
  const weights = weightsToWrite(checkpoint, options.weights, out);
  const byInitializer = new Map(weights.map((w) => [source.onnxWeights[w.name]?.initializer, w]));
  let inlined = 0;

  const graphParts: Uint8Array[] = [];
  for (const field of onnx.graph.fields) {
    if (field.number !== GraphField.initializer) {
      graphParts.push(bytes.subarray(field.start, field.end));
      continue;
    }
    const tensor = decodeTensor(bytes, field.valueStart, field.valueEnd, 'initializer');
    const weight = byInitializer.get(tensor.name);
    if (weight === undefined) {
      if (tensor.external) throw new FileProblem(out, `initializer '${tensor.name}' of ${checkpoint.path} is not a weight and is stored externally; writing such a model is not supported`);
      graphParts.push(bytes.subarray(field.start, field.end));
      continue;
    }
    const layout = source.onnxWeights[weight.name];
    if (tensor.external) inlined++;
    graphParts.push(lengthDelimitedField(GraphField.initializer, encodeTensorWithValues(bytes, tensor, toOnnx(weight.values, layout.dims, layout.layout))));
  }
  const graph = concatBytes(graphParts);

  const modelParts: Uint8Array[] = [];
  const graphField = onnx.fields.filter((f) => f.number === ModelField.graph).pop();
  for (const field of onnx.fields) {
    if (field === graphField) modelParts.push(lengthDelimitedField(ModelField.graph, graph));
    else if (field.number === ModelField.graph) continue;
    else if (field.number === ModelField.metadataProps && isProvenanceEntry(bytes, field.valueStart, field.valueEnd)) continue;
    else modelParts.push(bytes.subarray(field.start, field.end));
  }
  if (options.metadata !== undefined || inlined > 0) {
    const note = inlined > 0 ? { writerNote: `${inlined} weights stored in external data files in the source are stored inline here` } : {};
    let json: string;
    try {
      json = JSON.stringify({ ...options.metadata, ...note });
    } catch (error) {
      throw new FileProblem(out, `the metadata cannot be stored as JSON (${error instanceof Error ? error.message : String(error)})`);
    }
    modelParts.push(lengthDelimitedField(ModelField.metadataProps, concatBytes([stringField(1, PROVENANCE_KEY), stringField(2, json)])));
  }
  await writeNewFilesAtomically([{ path: out, data: concatBytes(modelParts) }]);
  return [out];
}

function isProvenanceEntry(bytes: Uint8Array, start: number, end: number): boolean {
  const key = parseMessage(bytes, start, end).filter((f) => f.number === 1).pop();
  return key !== undefined && stringOf(bytes, key, 'metadata_props.key') === PROVENANCE_KEY;
}

