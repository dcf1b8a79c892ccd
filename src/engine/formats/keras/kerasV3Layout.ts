/**
 * Keras 3 `.keras` files (also written by Keras 2.13–2.15): a zip of `metadata.json`,
 * `config.json` (the model config, Keras 3 forms) and `model.weights.h5`, where a layer's variables
 * are datasets `layers/<key>/vars/0..n` and <key> is the snake_case class name with `_1`, `_2`, …
 * for repeats, in model order (keras/src/saving/saving_lib.py); Keras 2.13 uses
 * `_layer_checkpoint_dependencies/<key>` instead. Variables are numbered, not named, so their roles
 * come from the layer class and config below.
 */
import type { LayerNode } from '../../model/spec';
import { FileProblem } from '../../../protocol/errors';
import { isJsonObject } from '../../io/jsonValues';
import type { KerasH5Contents, KerasH5Weight } from './h5Layout';
import { checkDeclaredSize, isDataset, isGroup, storageRoom } from './h5Layout';
import type { H5File, H5Group } from './h5wasm';

/** Roles of a layer's variables in the order Keras 3 saves them (trainable first). */
export function variableRoles(node: LayerNode): readonly string[] | undefined {
  const c = node.config;
  const bias = c.use_bias === false ? [] : ['bias'];
  switch (node.className) {
    case 'Dense':
    case 'Conv1D':
    case 'Conv2D':
    case 'Conv2DTranspose':
      return ['kernel', ...bias];
    case 'DepthwiseConv2D':
      return ['depthwise_kernel', ...bias];
    case 'BatchNormalization':
      return [...(c.scale === false ? [] : ['gamma']), ...(c.center === false ? [] : ['beta']), 'moving_mean', 'moving_variance'];
    case 'LayerNormalization':
      return [...(c.scale === false ? [] : ['gamma']), ...(c.center === false ? [] : ['beta'])];
    case 'PReLU':
      return ['alpha'];
    default:
      return undefined;
  }
}

/** Keras's `to_snake_case`, used for the group names in model.weights.h5. */
export function toSnakeCase(name: string): string {
  const cleaned = name.replace(/\W+/g, '');
  return cleaned
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/** Turns config.json into the model config that topologyToModelSpec reads, and its training loss. */
export function kerasV3Config(configJson: unknown, file: string): { modelConfig: Record<string, unknown>; trainingConfig: unknown } {
  if (!isJsonObject(configJson)) throw new FileProblem(file, 'config.json is not a JSON object');
  const compile = configJson.compile_config;
  return { modelConfig: configJson, trainingConfig: isJsonObject(compile) ? { loss: compile.loss } : undefined };
}

/**
 * The weights of `layers` (ModelSpec order) in model.weights.h5: dataset paths, shapes and roles.
 * Checks that every variable group found belongs to a layer and every layer's variables are all there.
 */
export function kerasV3Weights(h5file: H5File, layers: readonly LayerNode[], file: string): KerasH5Weight[] {
  const rootName = ['layers', '_layer_checkpoint_dependencies'].find((name) => isGroup(h5file.get(name)));
  if (rootName === undefined) throw new FileProblem(file, 'model.weights.h5 has no "layers" group');
  const root = h5file.get(rootName) as H5Group;
  const used = new Map<string, number>();
  const claimed = new Set<string>();
  const weights: KerasH5Weight[] = [];
  const room = storageRoom(h5file);
  for (const node of layers) {
    const base = toSnakeCase(node.className);
    const count = used.get(base);
    used.set(base, (count ?? -1) + 1);
    if (node.className === 'InputLayer') continue;
    const key = count === undefined ? base : `${base}_${count + 1}`;
    const groupKey = isGroup(root.get(key)) ? key : isGroup(root.get(node.name)) ? node.name : undefined;
    const vars = groupKey === undefined ? undefined : root.get(`${groupKey}/vars`);
    const n = isGroup(vars) ? vars.keys().length : 0;
    if (groupKey !== undefined) claimed.add(groupKey);
    if (n === 0) {
      if (variableRoles(node)?.length) throw new FileProblem(file, `layer '${node.name}' (${node.className}) has no variables in model.weights.h5 (looked for ${rootName}/${key}/vars)`);
      continue;
    }
    const roles = variableRoles(node);
    if (roles === undefined) throw new FileProblem(file, `layer '${node.name}': Flatness Lens does not know the variables of a ${node.className} in a .keras file`);
    if (roles.length !== n) throw new FileProblem(file, `layer '${node.name}' (${node.className}) has ${n} variables in ${rootName}/${groupKey}/vars, expected ${roles.length} (${roles.join(', ')})`);
    roles.forEach((role, i) => {
      const path = `${rootName}/${groupKey}/vars/${i}`;
      const dataset = h5file.get(path);
      if (!isDataset(dataset)) throw new FileProblem(file, `layer '${node.name}': ${path} is missing or not a dataset`);
      const meta = dataset.metadata;
      if (meta.type !== 0 && meta.type !== 1) throw new FileProblem(file, `layer '${node.name}': ${path} is not numeric`);
      checkDeclaredSize(dataset, path, room, file);
      weights.push({ name: `${node.name}/${role}`, layer: node.name, role, path, shape: meta.shape ?? [], byteWidth: meta.size, isFloat: meta.type === 1 });
    });
  }
  const unclaimed = root.keys().filter((key) => !claimed.has(key) && isGroup(root.get(`${key}/vars`)) && (root.get(`${key}/vars`) as H5Group).keys().length > 0);
  if (unclaimed.length > 0) throw new FileProblem(file, `model.weights.h5 has variables for ${rootName}/${unclaimed[0]}, which matches no layer of config.json`);
  return weights;
}

export type { KerasH5Contents };
