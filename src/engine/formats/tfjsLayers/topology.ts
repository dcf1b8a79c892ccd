/**
 * A Keras model config (as stored in a TF.js Layers model.json, Keras 2 or Keras 3 flavour) → ModelSpec.
 * Supports Sequential and functional models without shared layers or nested models.
 */
import { openDimension } from '../../model/inputShape';
import type { LayerNode, ModelSpec, Shape } from '../../model/spec';
import { FileProblem, ModelProblem } from '../../../protocol/errors';
import { describeJson, isJsonObject } from '../../io/jsonValues';
import type { JsonObject } from '../../io/jsonValues';

const MODEL_CLASSES = new Set(['Sequential', 'Model', 'Functional']);

interface StoredLayer {
  readonly name: string;
  readonly className: string;
  readonly config: JsonObject;
  readonly raw: JsonObject;
}

/** `modelConfig` is `{class_name, config}`; `file` is only used in messages. */
export function topologyToModelSpec(modelConfig: JsonObject, file: string): ModelSpec {
  const className = modelConfig.class_name;
  if (className === 'Sequential') return sequentialSpec(modelConfig.config, file);
  if (className === 'Model' || className === 'Functional') return functionalSpec(modelConfig.config, file);
  throw new FileProblem(file, `modelTopology class_name ${describeJson(className)} is not a model (expected Sequential, Model or Functional)`);
}

function sequentialSpec(config: unknown, file: string): ModelSpec {
  const list = Array.isArray(config) ? config : isJsonObject(config) ? config.layers : undefined;
  if (!Array.isArray(list) || list.length === 0) throw new FileProblem(file, 'the Sequential model in modelTopology has no layers');
  const stored = readStoredLayers(list, file);

  let input: LayerNode;
  let body = stored;
  if (stored[0].className === 'InputLayer') {
    input = { name: stored[0].name, className: 'InputLayer', config: stored[0].config, inbound: [] };
    body = stored.slice(1);
  } else {
    const first = stored[0];
    const batchShape = batchShapeOf(first.config);
    if (batchShape === undefined) {
      throw new ModelProblem(first.name, `the first layer of a Sequential model needs a batch_input_shape to give the input shape (in ${file})`);
    }
    const taken = new Set(stored.map((layer) => layer.name));
    let name = `${first.name}_input`;
    while (taken.has(name)) name = `${name}_`;
    const config = { name, batch_input_shape: batchShape, dtype: first.config.dtype ?? 'float32', sparse: false };
    input = { name, className: 'InputLayer', config, inbound: [] };
  }

  const layers: LayerNode[] = [input];
  for (const layer of body) {
    if (layer.className === 'InputLayer') throw new ModelProblem(layer.name, `an InputLayer can only come first in a Sequential model (in ${file})`);
    layers.push({ name: layer.name, className: layer.className, config: layer.config, inbound: [layers[layers.length - 1].name] });
  }
  return {
    inputs: [{ name: input.name, shape: inputShapeOf(input.name, input.config, file) }],
    layers,
    outputs: [layers[layers.length - 1].name],
  };
}

function functionalSpec(config: unknown, file: string): ModelSpec {
  if (!isJsonObject(config) || !Array.isArray(config.layers)) throw new FileProblem(file, 'the functional model in modelTopology has no "layers" list');
  const stored = readStoredLayers(config.layers, file);
  const byName = new Map(stored.map((layer) => [layer.name, layer]));

  const nodes = stored.map((layer): LayerNode => ({
    name: layer.name,
    className: layer.className,
    config: layer.config,
    inbound: inboundOf(layer, byName, file),
  }));

  const inputNames = tensorRefNames(config.input_layers, 'input_layers', file);
  const outputNames = tensorRefNames(config.output_layers, 'output_layers', file);
  const inputs = inputNames.map((name) => {
    const layer = byName.get(name);
    if (layer === undefined) throw new FileProblem(file, `input_layers names '${name}', which is not a layer of the model`);
    if (layer.className !== 'InputLayer') throw new ModelProblem(name, `is listed in input_layers but is a ${layer.className}, not an InputLayer (in ${file})`);
    return { name, shape: inputShapeOf(name, layer.config, file) };
  });
  for (const name of outputNames) {
    if (!byName.has(name)) throw new FileProblem(file, `output_layers names '${name}', which is not a layer of the model`);
  }
  return { inputs, layers: sortInputsFirst(nodes, file), outputs: outputNames };
}

function readStoredLayers(list: readonly unknown[], file: string): StoredLayer[] {
  const seen = new Set<string>();
  return list.map((value, i) => {
    if (!isJsonObject(value) || typeof value.class_name !== 'string' || !isJsonObject(value.config)) {
      throw new FileProblem(file, `layer ${i} of modelTopology should be {class_name, config}, found ${describeJson(value)}`);
    }
    const name = typeof value.config.name === 'string' ? value.config.name : value.name;
    if (typeof name !== 'string' || name === '') throw new FileProblem(file, `layer ${i} of modelTopology (${value.class_name}) has no name`);
    if (seen.has(name)) throw new ModelProblem(name, `two layers have this name (in ${file})`);
    seen.add(name);
    if (MODEL_CLASSES.has(value.class_name)) {
      throw new ModelProblem(name, `is itself a ${value.class_name} model; nested models are not supported (in ${file})`);
    }
    return { name, className: value.class_name, config: value.config, raw: value };
  });
}

/** Names of the layers feeding this one, from its single inbound node (Keras 2 or Keras 3 form). */
function inboundOf(layer: StoredLayer, byName: ReadonlyMap<string, StoredLayer>, file: string): string[] {
  const nodes = layer.raw.inbound_nodes ?? [];
  if (!Array.isArray(nodes)) throw new FileProblem(file, `layer '${layer.name}': inbound_nodes should be a list, found ${describeJson(nodes)}`);
  if (nodes.length > 1) {
    throw new ModelProblem(layer.name, `is called ${nodes.length} times (a shared layer); shared layers are not supported (in ${file})`);
  }
  if (layer.className === 'InputLayer') return [];
  if (nodes.length === 0) throw new ModelProblem(layer.name, `has no inbound nodes: it is not connected to the model (in ${file})`);

  const refs = Array.isArray(nodes[0]) ? nodes[0] : collectKerasHistories(nodes[0]);
  if (refs.length === 0) throw new ModelProblem(layer.name, `its inbound node names no input layers (in ${file})`);
  return refs.map((ref: unknown) => {
    const [name, nodeIndex, tensorIndex] = Array.isArray(ref) ? ref : [];
    if (typeof name !== 'string') throw new FileProblem(file, `layer '${layer.name}': unreadable inbound entry ${describeJson(ref)}`);
    if (!byName.has(name)) throw new ModelProblem(layer.name, `takes input from '${name}', which is not a layer of the model (in ${file})`);
    if (nodeIndex !== 0 && nodeIndex !== undefined) {
      throw new ModelProblem(name, `is called more than once (a shared layer); shared layers are not supported (in ${file})`);
    }
    if (tensorIndex !== 0 && tensorIndex !== undefined) {
      throw new ModelProblem(layer.name, `takes output ${describeJson(tensorIndex)} of '${name}'; layers with several outputs are not supported (in ${file})`);
    }
    return name;
  });
}

/** Keras 3: `{args: [...], kwargs}` where each input tensor is `{class_name: '__keras_tensor__', config: {keras_history}}`. */
function collectKerasHistories(node: unknown): unknown[] {
  if (!isJsonObject(node)) return [];
  const found: unknown[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (isJsonObject(value) && value.class_name === '__keras_tensor__' && isJsonObject(value.config)) found.push(value.config.keras_history);
  };
  visit(node.args);
  return found;
}

/** `input_layers`/`output_layers`: `[[name, 0, 0], ...]`, or Keras 3's `[name, 0, 0]` for a single one. */
function tensorRefNames(value: unknown, field: string, file: string): string[] {
  if (!Array.isArray(value) || value.length === 0) throw new FileProblem(file, `the functional model's ${field} should be a non-empty list, found ${describeJson(value)}`);
  const refs = typeof value[0] === 'string' ? [value] : value;
  return refs.map((ref: unknown) => {
    if (!Array.isArray(ref) || typeof ref[0] !== 'string') throw new FileProblem(file, `${field} has an unreadable entry ${describeJson(ref)}`);
    return ref[0];
  });
}

function batchShapeOf(config: JsonObject): unknown[] | undefined {
  const shape = config.batch_input_shape ?? config.batch_shape;
  return Array.isArray(shape) ? shape : undefined;
}

/** The input's shape without the batch dimension; an open (null) dimension becomes `openDimension`, for the user to give. */
function inputShapeOf(name: string, config: Readonly<Record<string, unknown>>, file: string): Shape {
  const batchShape = batchShapeOf(config as JsonObject);
  if (batchShape === undefined || batchShape.length === 0) {
    throw new ModelProblem(name, `the input has no batch_input_shape (in ${file})`);
  }
  return batchShape.slice(1).map((dim, i) => {
    if (dim === null) return openDimension;
    if (typeof dim !== 'number' || !Number.isSafeInteger(dim) || dim < 0) {
      throw new ModelProblem(name, `input dimension ${i + 1} is ${describeJson(dim)}; expected a non-negative integer (in ${file})`);
    }
    return dim;
  });
}

/** Depth-first in file order, so an already sorted list keeps its order. */
function sortInputsFirst(nodes: readonly LayerNode[], file: string): LayerNode[] {
  const byName = new Map(nodes.map((node) => [node.name, node]));
  const state = new Map<string, 'visiting' | 'done'>();
  const sorted: LayerNode[] = [];
  // An explicit stack: a long chain listed outputs-first would overflow the call stack.
  const stack: { node: LayerNode; next: number }[] = [];
  const enter = (node: LayerNode): void => {
    const seen = state.get(node.name);
    if (seen === 'done') return;
    if (seen === 'visiting') throw new ModelProblem(node.name, `is part of a cycle of layers (in ${file})`);
    state.set(node.name, 'visiting');
    stack.push({ node, next: 0 });
  };
  for (const root of nodes) {
    enter(root);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (top.next < top.node.inbound.length) {
        enter(byName.get(top.node.inbound[top.next++]) as LayerNode);
      } else {
        stack.pop();
        state.set(top.node.name, 'done');
        sorted.push(top.node);
      }
    }
  }
  return sorted;
}
