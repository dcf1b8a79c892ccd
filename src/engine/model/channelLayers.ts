/**
 * Layers that move channels without computing, on the last axis (channels-last):
 * ChannelShuffle, ShuffleNet's reshape of C channels to [groups, C/groups], transpose and flatten
 * back, and ChannelSlice, a contiguous range of channels (ONNX Slice and Split, torch's chunk).
 * Both are linear: tfjs's reshape, transpose, slice and pad differentiate exactly to any order.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ModelProblem } from '../../protocol/errors';
import type { LayerNode } from './spec';

function integerConfig(node: LayerNode, key: string): number {
  const value = node.config[key];
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new ModelProblem(node.name, `${node.className} needs an integer '${key}', found ${JSON.stringify(value)}`);
  return value;
}

/** The groups of a ChannelShuffle over `channels` channels, checked. */
export function shuffleGroups(node: LayerNode, channels: number): number {
  const groups = integerConfig(node, 'groups');
  if (groups < 1 || channels % groups !== 0) throw new ModelProblem(node.name, `ChannelShuffle: ${groups} groups do not divide ${channels} channels`);
  return groups;
}

/** The [begin, begin + size) channel range of a ChannelSlice over `channels` channels, checked. */
export function sliceRange(node: LayerNode, channels: number): { begin: number; size: number } {
  const begin = integerConfig(node, 'begin');
  const size = integerConfig(node, 'size');
  if (begin < 0 || size < 1 || begin + size > channels) throw new ModelProblem(node.name, `ChannelSlice: channels [${begin}, ${begin + size}) are not within the ${channels} channels it receives`);
  return { begin, size };
}

/**
 * Output channel j of a shuffle in `groups` groups of k = C/groups channels is input channel
 * (j mod groups)·k + ⌊j / groups⌋: the [groups, k] grid read column by column.
 */
export function shuffledChannelSources(channels: number, groups: number): Int32Array {
  const perGroup = channels / groups;
  return Int32Array.from({ length: channels }, (_, j) => (j % groups) * perGroup + Math.floor(j / groups));
}

export function channelShuffle(node: LayerNode, x: tf.Tensor): tf.Tensor {
  const channels = x.shape[x.rank - 1];
  const groups = shuffleGroups(node, channels);
  const rows = x.size / channels;
  const grid = tf.reshape(x, [rows, groups, channels / groups]);
  return tf.reshape(tf.transpose(grid, [0, 2, 1]), x.shape);
}

export function channelSlice(node: LayerNode, x: tf.Tensor): tf.Tensor {
  const { begin, size } = sliceRange(node, x.shape[x.rank - 1]);
  const starts = x.shape.map((_, i) => (i === x.rank - 1 ? begin : 0));
  const sizes = x.shape.map((d, i) => (i === x.rank - 1 ? size : d));
  return tf.slice(x, starts, sizes);
}
