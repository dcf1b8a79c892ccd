/** Every ONNX operator the reader maps (default domain), by op type: one handler per family file. */
import type { OperatorHandler } from '../mapping';
import { activationOperators } from './activations';
import { arithmeticOperators } from './arithmetic';
import { channelOperators } from './channels';
import { convolutionOperators } from './convolution';
import { denseOperators } from './dense';
import { elementwiseOperators } from './elementwise';
import { layoutOperators } from './layout';
import { attentionOperators } from './attention';
import { mergeOperators } from './merge';
import { normalizationOperators } from './normalization';
import { poolingOperators } from './pooling';
import { reduceOperators } from './reduce';
import { shapeOperators } from './shape';
import { transposedConvolutionOperators } from './transposedConvolution';

export const operatorHandlers: ReadonlyMap<string, OperatorHandler> = new Map(
  Object.entries({ ...denseOperators, ...mergeOperators, ...activationOperators, ...convolutionOperators, ...normalizationOperators, ...poolingOperators, ...shapeOperators, ...layoutOperators, ...attentionOperators, ...channelOperators, ...elementwiseOperators, ...reduceOperators, ...transposedConvolutionOperators, ...arithmeticOperators }),
);

export const supportedOnnxOps: readonly string[] = [...operatorHandlers.keys()];
