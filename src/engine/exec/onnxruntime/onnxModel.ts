/**
 * Encodes a computation graph as an ONNX ModelProto (protobuf), the form ONNX Runtime loads.
 * Only the fields a generated graph needs: nodes with int/float/ints attributes, float32 and int64
 * initializers, and typed graph inputs and outputs.
 */
import { concatBytes, encodeVarint, lengthDelimitedField, stringField, varintField } from '../../formats/onnx/wire';

export type ElementType = 'float' | 'int64' | 'bool';

export type Attribute = number | readonly number[] | string | { readonly float: number };

export interface GraphNode {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes?: Readonly<Record<string, Attribute>>;
}

export interface Initializer {
  readonly name: string;
  readonly shape: readonly number[];
  readonly values: Float32Array | BigInt64Array;
}

export interface GraphPort {
  readonly name: string;
  /** Negative entries: dimensions of any size. */
  readonly shape: readonly number[];
  readonly type: ElementType;
}

export interface GraphDescription {
  readonly nodes: readonly GraphNode[];
  readonly initializers: readonly Initializer[];
  readonly inputs: readonly GraphPort[];
  readonly outputs: readonly GraphPort[];
}

/** Opset 17: ScatterElements with reduction, ReduceSum with axes as an input. */
export const opsetVersion = 17;
const irVersion = 8;
const elementTypeCode: Record<ElementType, number> = { float: 1, int64: 7, bool: 9 };
const attributeTypeCode = { float: 1, int: 2, string: 3, ints: 7 } as const;

function fixed32Field(number: number, value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setFloat32(0, value, true);
  return concatBytes([encodeVarint((number << 3) | 5), bytes]);
}

function encodeAttribute(name: string, value: Attribute): Uint8Array {
  const parts = [stringField(1, name)];
  if (typeof value === 'string') parts.push(lengthDelimitedField(4, new TextEncoder().encode(value)), varintField(20, attributeTypeCode.string));
  else if (typeof value === 'number') parts.push(varintField(3, value), varintField(20, attributeTypeCode.int));
  else if (Array.isArray(value)) parts.push(...value.map((v) => varintField(8, v)), varintField(20, attributeTypeCode.ints));
  else parts.push(fixed32Field(2, (value as { float: number }).float), varintField(20, attributeTypeCode.float));
  return concatBytes(parts);
}

function encodeNode(node: GraphNode, index: number): Uint8Array {
  return concatBytes([
    ...node.inputs.map((i) => stringField(1, i)),
    ...node.outputs.map((o) => stringField(2, o)),
    stringField(3, `${node.op}_${index}`),
    stringField(4, node.op),
    ...Object.entries(node.attributes ?? {}).map(([k, v]) => lengthDelimitedField(5, encodeAttribute(k, v))),
  ]);
}

function encodeInitializer(init: Initializer): Uint8Array {
  const type: ElementType = init.values instanceof Float32Array ? 'float' : 'int64';
  const raw = new Uint8Array(init.values.buffer, init.values.byteOffset, init.values.byteLength);
  return concatBytes([...init.shape.map((d) => varintField(1, d)), varintField(2, elementTypeCode[type]), stringField(8, init.name), lengthDelimitedField(9, raw)]);
}

/** A negative dimension is left open (a named dim_param): the graph takes any size there. */
function encodePort(port: GraphPort): Uint8Array {
  const dims = port.shape.map((d, i) => lengthDelimitedField(1, d < 0 ? stringField(2, `${port.name}_dim${i}`) : varintField(1, d)));
  const tensorType = concatBytes([varintField(1, elementTypeCode[port.type]), lengthDelimitedField(2, concatBytes(dims))]);
  return concatBytes([stringField(1, port.name), lengthDelimitedField(2, lengthDelimitedField(1, tensorType))]);
}

export function encodeModel(graph: GraphDescription, name: string): Uint8Array {
  const graphBytes = concatBytes([
    ...graph.nodes.map((n, i) => lengthDelimitedField(1, encodeNode(n, i))),
    stringField(2, name),
    ...graph.initializers.map((t) => lengthDelimitedField(5, encodeInitializer(t))),
    ...graph.inputs.map((p) => lengthDelimitedField(11, encodePort(p))),
    ...graph.outputs.map((p) => lengthDelimitedField(12, encodePort(p))),
  ]);
  return concatBytes([
    varintField(1, irVersion),
    stringField(2, 'flatness-lens'),
    lengthDelimitedField(7, graphBytes),
    lengthDelimitedField(8, concatBytes([stringField(1, ''), varintField(2, opsetVersion)])),
  ]);
}
