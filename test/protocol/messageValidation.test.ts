import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isToAnalyzerMessage } from '../../src/protocol/analyzerProtocol';
import { messageId, toAnalyzerMessageProblem } from '../../src/protocol/messageValidation';
import { limits } from '../../src/protocol/limits';
import { metricNames } from '../../src/protocol/report';

const full = {
  checkpoint: '/m/model.json',
  architecture: '/m/arch.json',
  data: '/m/data.csv',
  dataOptions: { labelColumn: -1, header: true, inputKey: 'x', labelKey: 'y', scale: false },
  loss: 'ce',
  samples: 100,
  probeSamples: 64,
  seed: 4294967295,
  backend: 'wasm',
  inputShape: [28, 28, 1],
  allowNonFinite: true,
  metrics: [...metricNames],
  settings: {
    eigenvalues: { count: 5, maxSteps: 60, tolerance: 1e-3 },
    trace: { samples: 30, maxBlocksForBlockProbes: 40 },
    density: { runs: 3, steps: 40 },
    sharpness: { epsilon: 0.05, subspaceDim: 20, iterations: 10, restarts: 0 },
    volume: { epsilon: 0.1, directions: 10, cap: 1000, bisections: 12 },
    landscape: { radius: 1, points: 25, surfacePoints: 13 },
    invariant: { asamRho: 0.05, asamEta: 0.01 },
    batchSize: 1024,
  },
};

test('every field of every message type is accepted when well formed', () => {
  assert.equal(toAnalyzerMessageProblem({ type: 'analyze', id: 1, request: full }), undefined);
  const { metrics, settings, ...input } = full;
  void metrics;
  void settings;
  assert.equal(toAnalyzerMessageProblem({ type: 'rescale', id: 2, out: '/m/out.json', request: { ...input, mode: 'sharpen', factor: 10, granularity: 'unit', objective: 'lambda-max', traceSamples: 50, tolerance: 1e-5 } }), undefined);
  assert.equal(toAnalyzerMessageProblem({ type: 'rescale', id: 3, request: { checkpoint: 'a', mode: 'alpha', alphas: [2, 0.5] } }), undefined);
  assert.equal(toAnalyzerMessageProblem({ type: 'compareOutputs', id: 4, request: { first: input, second: '/m/b.json' } }), undefined);
  assert.equal(toAnalyzerMessageProblem({ type: 'cancel', id: 5 }), undefined);
  assert.ok(isToAnalyzerMessage({ type: 'cancel', id: 5 }));
});

const refused: [string, unknown, RegExp][] = [
  ['not an object', 'analyze', /a message must be an object, got "analyze"/],
  ['an unknown type', { type: 'shutdown', id: 1 }, /message\.type must be one of/],
  ['a missing id', { type: 'cancel' }, /message\.id is missing/],
  ['a negative id', { type: 'cancel', id: -1 }, /message\.id must be an integer from 1/],
  ['an unknown mode', { type: 'rescale', id: 1, request: { checkpoint: 'a', mode: 'bogus' } }, /message\.request\.mode must be one of flatten, sharpen, alpha, got "bogus"/],
  ['alpha without factors', { type: 'rescale', id: 1, request: { checkpoint: 'a', mode: 'alpha' } }, /message\.request\.alphas is missing/],
  ['sharpen by 0.5', { type: 'rescale', id: 1, request: { checkpoint: 'a', mode: 'sharpen', factor: 0.5 } }, /factor must be greater than 1/],
  ['a string count', { type: 'analyze', id: 1, request: { ...full, settings: { eigenvalues: { count: '5' } } } }, /settings\.eigenvalues\.count must be an integer from 1 to 1000/],
  ['top-k over the limit', { type: 'analyze', id: 1, request: { ...full, settings: { eigenvalues: { count: limits.topK.value + 1 } } } }, /the limit on top eigenvalues/],
  ['an unknown setting', { type: 'analyze', id: 1, request: { ...full, settings: { turbo: true } } }, /message\.request\.settings has an unknown field 'turbo'/],
  ['NaN epsilon', { type: 'analyze', id: 1, request: { ...full, settings: { sharpness: { epsilon: Number.NaN } } } }, /settings\.sharpness\.epsilon must be a positive finite number/],
  ['probe samples 1e9', { type: 'analyze', id: 1, request: { ...full, probeSamples: 1e9 } }, /message\.request\.probeSamples must be an integer from 1 to 100000/],
  ['an input shape over the limit', { type: 'analyze', id: 1, request: { ...full, inputShape: [100000, 100000] } }, /inputShape has 10000000000 elements/],
  ['a loss of the wrong type', { type: 'analyze', id: 1, request: { ...full, loss: 3 } }, /message\.request\.loss must be one of ce, bce, mse, got 3/],
  ['a label column of the wrong type', { type: 'analyze', id: 1, request: { ...full, dataOptions: { labelColumn: 'middle' } } }, /dataOptions\.labelColumn must be an integer/],
  ['an empty checkpoint', { type: 'analyze', id: 1, request: { checkpoint: '' } }, /message\.request\.checkpoint must be a non-empty path/],
  ['a first request without a checkpoint', { type: 'compareOutputs', id: 1, request: { first: {}, second: 'b' } }, /message\.request\.first\.checkpoint is missing/],
  ['a list for the request', { type: 'analyze', id: 1, request: [] }, /message\.request must be an object, got a list of 0/],
];
for (const [what, message, problem] of refused) {
  test(`refuses ${what}`, () => {
    assert.match(toAnalyzerMessageProblem(message) ?? 'accepted', problem);
    assert.equal(isToAnalyzerMessage(message), false);
  });
}

test('a refusal can be addressed to the job only when the id is usable', () => {
  assert.equal(messageId({ type: 'analyze', id: 7, request: {} }), 7);
  assert.equal(messageId({ type: 'analyze', id: '7' }), undefined);
  assert.equal(messageId(null), undefined);
});
