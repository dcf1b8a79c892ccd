/**
 * The subset of ONNX's onnx.proto (Apache-2.0, https://github.com/onnx/onnx/blob/main/onnx/onnx.proto)
 * that Flatness Lens reads, decoded from the wire format by hand. Field numbers below are the
 * spec's. Every decoded message keeps its byte span, so the writer can splice new initializer
 * data into otherwise untouched bytes. Tensor data is not decoded here (see tensors.ts).
 */
import { WireError, fixedBytesOf, float32Of, int64sOf, parseMessage, stringOf, varintOf, type WireField } from './wire';

/** ModelProto fields. */
export const ModelField = { irVersion: 1, producerName: 2, producerVersion: 3, domain: 4, modelVersion: 5, docString: 6, graph: 7, opsetImport: 8, metadataProps: 14 } as const;
/** GraphProto fields. */
export const GraphField = { node: 1, name: 2, initializer: 5, input: 11, output: 12, valueInfo: 13, sparseInitializer: 15 } as const;
/** TensorProto fields. */
export const TensorField = { dims: 1, dataType: 2, floatData: 4, int32Data: 5, int64Data: 7, name: 8, rawData: 9, doubleData: 10, externalData: 13, dataLocation: 14 } as const;

/** TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, INT32: 6, INT64: 7, FLOAT16: 10, DOUBLE: 11, BFLOAT16: 16 } as const;
export const dataTypeNames: Record<number, string> = {
  1: 'float', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string', 9: 'bool',
  10: 'float16', 11: 'double', 12: 'uint32', 13: 'uint64', 14: 'complex64', 15: 'complex128', 16: 'bfloat16',
};

/** A TensorProto, with its data fields left undecoded. */
export interface OnnxTensor {
  readonly name: string;
  readonly dims: number[];
  readonly dataType: number;
  /** Its span within the file (the message payload). */
  readonly start: number;
  readonly end: number;
  readonly fields: readonly WireField[];
  readonly external?: { readonly location?: string; readonly offset?: string; readonly length?: string };
}

export type AttributeValue =
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'floats'; readonly value: number[] }
  | { readonly kind: 'ints'; readonly value: number[] }
  | { readonly kind: 'tensor'; readonly value: OnnxTensor }
  | { readonly kind: 'other'; readonly type: number };

export interface OnnxNode {
  readonly name: string;
  readonly opType: string;
  readonly domain: string;
  readonly inputs: string[];
  readonly outputs: string[];
  readonly attributes: ReadonlyMap<string, AttributeValue>;
}

export interface OnnxValueInfo {
  readonly name: string;
  /** Element type and dims (a number, or a symbolic name / undefined when unknown); undefined for non-tensors. */
  readonly tensor?: { readonly elemType: number; readonly dims: (number | string | undefined)[] | undefined };
}

export interface OnnxGraph {
  readonly start: number;
  readonly end: number;
  readonly fields: readonly WireField[];
  readonly name: string;
  readonly nodes: OnnxNode[];
  readonly initializers: OnnxTensor[];
  readonly inputs: OnnxValueInfo[];
  readonly outputs: OnnxValueInfo[];
  readonly sparseInitializers: number;
}

export interface OnnxModel {
  readonly fields: readonly WireField[];
  readonly irVersion?: number;
  readonly producer: string;
  readonly opsets: ReadonlyMap<string, number>;
  readonly metadata: ReadonlyMap<string, string>;
  readonly graph: OnnxGraph;
}

function group(fields: readonly WireField[]): Map<number, WireField[]> {
  const byNumber = new Map<number, WireField[]>();
  for (const f of fields) {
    const list = byNumber.get(f.number);
    if (list) list.push(f);
    else byNumber.set(f.number, [f]);
  }
  return byNumber;
}

function last(byNumber: Map<number, WireField[]>, number: number): WireField | undefined {
  const list = byNumber.get(number);
  return list?.[list.length - 1];
}

function str(bytes: Uint8Array, byNumber: Map<number, WireField[]>, number: number, what: string): string {
  const f = last(byNumber, number);
  return f ? stringOf(bytes, f, what) : '';
}

function payload(field: WireField, what: string): [number, number] {
  if (field.valueStart === field.start || field.wireType !== 2) throw new WireError(`${what} should be a message, found wire type ${field.wireType}`);
  return [field.valueStart, field.valueEnd];
}

/** Decodes a whole ModelProto. Throws WireError for malformed bytes. */
export function decodeModel(bytes: Uint8Array): OnnxModel {
  const fields = parseMessage(bytes);
  const byNumber = group(fields);
  const irField = last(byNumber, ModelField.irVersion);
  const graphField = last(byNumber, ModelField.graph);
  if (graphField === undefined) throw new WireError('the model has no graph (field 7)');
  const opsets = new Map<string, number>();
  for (const f of byNumber.get(ModelField.opsetImport) ?? []) {
    const inner = group(parseMessage(bytes, ...payload(f, 'opset_import')));
    const version = last(inner, 2);
    opsets.set(str(bytes, inner, 1, 'opset_import.domain'), version ? varintOf(version, 'opset_import.version') : 0);
  }
  const metadata = new Map<string, string>();
  for (const f of byNumber.get(ModelField.metadataProps) ?? []) {
    const inner = group(parseMessage(bytes, ...payload(f, 'metadata_props')));
    metadata.set(str(bytes, inner, 1, 'metadata_props.key'), str(bytes, inner, 2, 'metadata_props.value'));
  }
  const producer = [str(bytes, byNumber, ModelField.producerName, 'producer_name'), str(bytes, byNumber, ModelField.producerVersion, 'producer_version')].filter((s) => s).join(' ');
  return {
    fields,
    irVersion: irField ? varintOf(irField, 'ir_version') : undefined,
    producer,
    opsets,
    metadata,
    graph: decodeGraph(bytes, ...payload(graphField, 'graph')),
  };
}

function decodeGraph(bytes: Uint8Array, start: number, end: number): OnnxGraph {
  const fields = parseMessage(bytes, start, end);
  const byNumber = group(fields);
  return {
    start,
    end,
    fields,
    name: str(bytes, byNumber, GraphField.name, 'graph.name'),
    nodes: (byNumber.get(GraphField.node) ?? []).map((f, i) => decodeNode(bytes, f, i)),
    initializers: (byNumber.get(GraphField.initializer) ?? []).map((f, i) => decodeTensor(bytes, ...payload(f, `initializer ${i}`), `initializer ${i}`)),
    inputs: (byNumber.get(GraphField.input) ?? []).map((f) => decodeValueInfo(bytes, f)),
    outputs: (byNumber.get(GraphField.output) ?? []).map((f) => decodeValueInfo(bytes, f)),
    sparseInitializers: (byNumber.get(GraphField.sparseInitializer) ?? []).length,
  };
}

function decodeNode(bytes: Uint8Array, field: WireField, index: number): OnnxNode {
  const what = `node ${index}`;
  const byNumber = group(parseMessage(bytes, ...payload(field, what)));
  const attributes = new Map<string, AttributeValue>();
  for (const f of byNumber.get(5) ?? []) {
    const [name, value] = decodeAttribute(bytes, f, what);
    attributes.set(name, value);
  }
  return {
    name: str(bytes, byNumber, 3, `${what} name`),
    opType: str(bytes, byNumber, 4, `${what} op_type`),
    domain: str(bytes, byNumber, 7, `${what} domain`),
    inputs: (byNumber.get(1) ?? []).map((f) => stringOf(bytes, f, `${what} input`)),
    outputs: (byNumber.get(2) ?? []).map((f) => stringOf(bytes, f, `${what} output`)),
    attributes,
  };
}

/** AttributeProto: name 1, f 2, i 3, s 4, t 5, floats 7, ints 8, type 20. */
function decodeAttribute(bytes: Uint8Array, field: WireField, where: string): [string, AttributeValue] {
  const byNumber = group(parseMessage(bytes, ...payload(field, `${where} attribute`)));
  const name = str(bytes, byNumber, 1, `${where} attribute name`);
  const what = `${where} attribute '${name}'`;
  const typeField = last(byNumber, 20);
  let type = typeField ? varintOf(typeField, `${what} type`) : 0;
  if (type === 0) {
    // Very old files omit `type`: infer it from the field that is set.
    type = byNumber.has(2) ? 1 : byNumber.has(3) ? 2 : byNumber.has(4) ? 3 : byNumber.has(5) ? 4 : byNumber.has(7) ? 6 : byNumber.has(8) ? 7 : 0;
  }
  switch (type) {
    case 1: {
      const f = last(byNumber, 2);
      return [name, { kind: 'float', value: f ? float32Of(bytes, f, what) : 0 }];
    }
    case 2: {
      const f = last(byNumber, 3);
      return [name, { kind: 'int', value: f ? varintOf(f, what) : 0 }];
    }
    case 3:
      return [name, { kind: 'string', value: str(bytes, byNumber, 4, what) }];
    case 4: {
      const f = last(byNumber, 5);
      if (!f) throw new WireError(`${what} has no tensor`);
      return [name, { kind: 'tensor', value: decodeTensor(bytes, ...payload(f, what), what) }];
    }
    case 6: {
      const raw = fixedBytesOf(bytes, byNumber.get(7) ?? [], 4, what);
      const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      return [name, { kind: 'floats', value: Array.from({ length: raw.byteLength / 4 }, (_, i) => view.getFloat32(4 * i, true)) }];
    }
    case 7:
      return [name, { kind: 'ints', value: int64sOf(bytes, byNumber.get(8) ?? [], what) }];
    default:
      return [name, { kind: 'other', type }];
  }
}

export function decodeTensor(bytes: Uint8Array, start: number, end: number, what: string): OnnxTensor {
  const fields = parseMessage(bytes, start, end);
  const byNumber = group(fields);
  const name = str(bytes, byNumber, TensorField.name, `${what} name`);
  const label = name ? `tensor '${name}'` : what;
  const typeField = last(byNumber, TensorField.dataType);
  const locationField = last(byNumber, TensorField.dataLocation);
  let external: OnnxTensor['external'];
  if (locationField && varintOf(locationField, `${label} data_location`) === 1) {
    const entries: Record<string, string> = {};
    for (const f of byNumber.get(TensorField.externalData) ?? []) {
      const inner = group(parseMessage(bytes, ...payload(f, `${label} external_data`)));
      entries[str(bytes, inner, 1, 'external_data.key')] = str(bytes, inner, 2, 'external_data.value');
    }
    external = { location: entries.location, offset: entries.offset, length: entries.length };
  }
  return {
    name,
    dims: int64sOf(bytes, byNumber.get(TensorField.dims) ?? [], `${label} dims`),
    dataType: typeField ? varintOf(typeField, `${label} data_type`) : 0,
    start,
    end,
    fields,
    external,
  };
}

function decodeValueInfo(bytes: Uint8Array, field: WireField): OnnxValueInfo {
  const byNumber = group(parseMessage(bytes, ...payload(field, 'value_info')));
  const name = str(bytes, byNumber, 1, 'value_info.name');
  const typeField = last(byNumber, 2);
  if (!typeField) return { name };
  const typeProto = group(parseMessage(bytes, ...payload(typeField, `value '${name}' type`)));
  const tensorType = last(typeProto, 1);
  if (!tensorType) return { name };
  const tensor = group(parseMessage(bytes, ...payload(tensorType, `value '${name}' tensor_type`)));
  const elem = last(tensor, 1);
  const shapeField = last(tensor, 2);
  let dims: (number | string | undefined)[] | undefined;
  if (shapeField) {
    const shape = group(parseMessage(bytes, ...payload(shapeField, `value '${name}' shape`)));
    dims = (shape.get(1) ?? []).map((d) => {
      const dim = group(parseMessage(bytes, ...payload(d, `value '${name}' dim`)));
      const value = last(dim, 1);
      if (value) return varintOf(value, `value '${name}' dim_value`);
      const param = last(dim, 2);
      return param ? stringOf(bytes, param, `value '${name}' dim_param`) : undefined;
    });
  }
  return { name, tensor: { elemType: elem ? varintOf(elem, `value '${name}' elem_type`) : 0, dims } };
}
