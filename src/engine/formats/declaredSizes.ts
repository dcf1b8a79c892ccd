import type { Checkpoint } from '../model/spec';
import { FileProblem } from '../../protocol/errors';
import { limits } from '../../protocol/limits';

const SIZE_KEYS = ['units', 'filters'] as const;

/**
 * Refuses sizes a file declares that no real network has: a layer's units or filters (or an input
 * dimension) that is not a positive integer within the layerUnits limit, a weight shape over the
 * tensorElements limit, and a Dense layer whose kernel does not have the units its config declares.
 */
export function refuseImpossibleSizes(file: string, checkpoint: Checkpoint): void {
  for (const layer of checkpoint.model.layers) {
    for (const key of SIZE_KEYS) {
      const value = layer.config[key];
      if (value === undefined || value === null) continue;
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > limits.layerUnits.value) {
        throw new FileProblem(file, `layer '${layer.name}' declares ${key} = ${JSON.stringify(value)}; expected a positive integer up to ${limits.layerUnits.value} (the limit on ${limits.layerUnits.what})`);
      }
      if (key === 'units' && layer.className === 'Dense') {
        const kernel = checkpoint.weights.find((w) => w.layer === layer.name && w.role === 'kernel');
        if (kernel && kernel.shape[kernel.shape.length - 1] !== value) {
          throw new FileProblem(file, `layer '${layer.name}' declares units = ${value}, but its kernel '${kernel.name}' has shape [${kernel.shape.join(', ')}]`);
        }
      }
    }
  }
  for (const input of checkpoint.model.inputs) {
    const elements = input.shape.reduce((a, b) => a * Math.max(b, 1), 1);
    if (input.shape.some((d) => !Number.isInteger(d)) || elements > limits.inputElements.value) {
      throw new FileProblem(file, `input '${input.name}' declares shape [${input.shape.join(', ')}]; expected integers with at most ${limits.inputElements.value} elements per sample (the limit on ${limits.inputElements.what})`);
    }
  }
  for (const weight of checkpoint.weights) {
    const elements = weight.shape.reduce((a, b) => a * b, 1);
    if (elements > limits.tensorElements.value) throw new FileProblem(file, `weight '${weight.name}' declares shape [${weight.shape.join(', ')}], over the limit of ${limits.tensorElements.value} ${limits.tensorElements.what}`);
  }
}
