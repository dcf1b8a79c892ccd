/**
 * Test reference only: reading the Keras config keys the reference understands, with Keras's
 * defaults, failing loudly on anything unexpected rather than guessing.
 */
import type { LayerNode } from '../../src/engine/model/spec';
import { ReferenceModelError } from './referenceTensor';

export type Padding = 'valid' | 'same';

export function numberOption(node: LayerNode, key: string, fallback: number): number {
  const raw = node.config[key];
  if (raw === undefined || raw === null) return fallback;
  if (typeof raw !== 'number') {
    throw new ReferenceModelError(node.name, `expected config.${key} to be a number, found ${JSON.stringify(raw)}`);
  }
  return raw;
}

export function nullableNumberOption(node: LayerNode, key: string): number | null {
  const raw = node.config[key];
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'number') {
    throw new ReferenceModelError(node.name, `expected config.${key} to be a number or null, found ${JSON.stringify(raw)}`);
  }
  return raw;
}

export function booleanOption(node: LayerNode, key: string, fallback: boolean): boolean {
  const raw = node.config[key];
  if (raw === undefined || raw === null) return fallback;
  if (typeof raw !== 'boolean') {
    throw new ReferenceModelError(node.name, `expected config.${key} to be a boolean, found ${JSON.stringify(raw)}`);
  }
  return raw;
}

/** A 2-D size such as kernel_size or strides: a number n means [n, n]. */
export function pairOption(node: LayerNode, key: string, fallback: readonly [number, number] | null): [number, number] {
  const raw = node.config[key];
  if (raw === undefined || raw === null) {
    if (fallback === null) throw new ReferenceModelError(node.name, `config.${key} is required`);
    return [fallback[0], fallback[1]];
  }
  if (typeof raw === 'number') return [raw, raw];
  if (Array.isArray(raw) && raw.length === 2 && raw.every((v): v is number => typeof v === 'number')) {
    return [raw[0], raw[1]];
  }
  throw new ReferenceModelError(node.name, `expected config.${key} to be a number or a pair, found ${JSON.stringify(raw)}`);
}

export function integerListOption(node: LayerNode, key: string): number[] | null {
  const raw = node.config[key];
  if (raw === undefined || raw === null) return null;
  if (typeof raw === 'number') return [raw];
  if (Array.isArray(raw) && raw.every((v): v is number => typeof v === 'number' && Number.isInteger(v))) return [...raw];
  throw new ReferenceModelError(node.name, `expected config.${key} to be a list of integers, found ${JSON.stringify(raw)}`);
}

export function paddingOption(node: LayerNode): Padding {
  const raw = node.config['padding'];
  if (raw === undefined || raw === null) return 'valid';
  if (typeof raw === 'string') {
    const lower = raw.toLowerCase();
    if (lower === 'valid' || lower === 'same') return lower;
  }
  throw new ReferenceModelError(node.name, `expected config.padding 'valid' or 'same', found ${JSON.stringify(raw)}`);
}

export function requireChannelsLast(node: LayerNode): void {
  const raw = node.config['data_format'];
  if (raw === undefined || raw === null) return;
  if (raw !== 'channels_last' && raw !== 'channelsLast') {
    throw new ReferenceModelError(node.name, `only channels_last is supported, found data_format ${JSON.stringify(raw)}`);
  }
}
