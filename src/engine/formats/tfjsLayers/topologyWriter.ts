import type { ModelSpec } from '../../model/spec';
import type { JsonObject } from '../../io/jsonValues';

/**
 * A Layers-format model.json (functional topology, Keras 2 inbound-node form) for a model that was
 * not read from one — built in memory, or read from another format. Weights are named
 * `<layer>/<role>`, the names the reader maps back to layers.
 */
export function layersModelJsonFor(model: ModelSpec, generatedBy: string): JsonObject {
  const inputShapes = new Map(model.inputs.map((i) => [i.name, i.shape]));
  const layers = model.layers.map((l) => {
    const inputShape = inputShapes.get(l.name);
    const className = inputShape ? 'InputLayer' : l.className;
    const config: JsonObject = { ...l.config, name: l.name };
    if (inputShape) config.batch_input_shape = [null, ...inputShape];
    return {
      class_name: className,
      config,
      name: l.name,
      inbound_nodes: l.inbound.length === 0 ? [] : [l.inbound.map((name) => [name, 0, 0, {}])],
    };
  });
  const reference = (name: string) => [name, 0, 0];
  return {
    format: 'layers-model',
    generatedBy,
    convertedBy: null,
    modelTopology: {
      class_name: 'Model',
      config: {
        name: 'model',
        layers,
        input_layers: model.inputs.map((i) => reference(i.name)),
        output_layers: model.outputs.map(reference),
      },
      keras_version: 'tfjs-layers 4.22.0',
      backend: 'tensor_flow.js',
    },
    ...(model.trainingLoss ? { trainingConfig: { loss: model.trainingLoss } } : {}),
    weightsManifest: [],
  };
}
