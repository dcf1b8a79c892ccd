/**
 * Progress of a whole analysis of the example network: the bar moves during every stage, reading
 * the inputs included, never goes back and never leaps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { analyzeFile } from '../../src/engine/analysis/analyzeFile';
import { monotoneProgress, progressSpan, setupShare } from '../../src/engine/analysis/progress';
import { metricNames, type AnalysisProgress } from '../../src/protocol/report';

const example = path.join(__dirname, '..', '..', 'examples', 'digits-mlp');

test('analyzeFile(): progress is monotone, starts at 0, ends at 1 and moves several times within every stage', async () => {
  const events: AnalysisProgress[] = [];
  await analyzeFile(
    {
      checkpoint: path.join(example, 'model.json'),
      data: path.join(example, 'digits.csv.gz'),
      samples: 300,
      // Batches of 100 so that the loss stage has batches to report.
      settings: { batchSize: 100, trace: { samples: 8 }, density: { runs: 2, steps: 12 }, volume: { directions: 4 }, landscape: { points: 7, surfacePoints: 5 } },
    },
    { onProgress: (p) => events.push(p) },
  );
  assert.equal(events[0].fraction, 0, 'the first report is at 0');
  assert.equal(events.at(-1)!.fraction, 1, 'the last report is at 1');
  for (const [i, e] of events.entries()) {
    if (i > 0) assert.ok(e.fraction >= events[i - 1].fraction, `report ${i} (${e.stage}: ${e.message}) goes back from ${events[i - 1].fraction} to ${e.fraction}`);
  }

  const setup = events.filter((e) => e.stage === 'setup');
  assert.deepEqual([...new Set(setup.map((e) => e.message))], [
    'starting the tensor backend',
    'reading the checkpoint model.json',
    'loading the data set digits.csv.gz',
    'fitting the data to the model',
    'hashing the checkpoint',
    'weight statistics (norms, spectral norms)',
  ]);
  const reading = setup.filter((e) => !e.message.startsWith('weight statistics'));
  assert.ok(reading.every((e) => e.fraction <= setupShare), 'reading the inputs stays within its share of the bar');

  for (const stage of metricNames) {
    const fractions = new Set(events.filter((e) => e.stage === stage).map((e) => e.fraction));
    assert.ok(fractions.size >= 3, `${stage}: the bar moves ${fractions.size - 1} times within the stage`);
  }
  // The largest step between two reports: no stage sits still and then leaps (Lanczos stopping early did).
  const leaps = events.slice(1).map((e, i) => ({ step: e.fraction - events[i].fraction, at: `${events[i].stage} → ${e.stage}: ${e.message} ${e.detail ?? ''}` }));
  const largest = leaps.reduce((a, b) => (b.step > a.step ? b : a));
  assert.ok(largest.step <= 0.08, `largest leap ${largest.step.toFixed(3)} at ${largest.at}`);
  // Stages whose length is known say where they are.
  for (const stage of ['loss', 'trace', 'density', 'volume'] as const) {
    assert.ok(events.some((e) => e.stage === stage && /\d+ of \d+/.test(e.detail ?? '')), `${stage} reports a count in its detail`);
  }
});

test('monotoneProgress and progressSpan: a part maps onto its span and never moves the whole back', () => {
  const seen: number[] = [];
  const whole = monotoneProgress((p) => seen.push(p.fraction))!;
  const secondHalf = progressSpan(whole, 0.5, 1)!;
  whole({ stage: 'setup', fraction: 0.3, message: 'a' });
  secondHalf({ stage: 'trace', fraction: 0, message: 'b' });
  secondHalf({ stage: 'trace', fraction: 0.5, message: 'b' });
  whole({ stage: 'trace', fraction: 0.6, message: 'estimate shrank' });
  secondHalf({ stage: 'trace', fraction: 2, message: 'b' });
  assert.deepEqual(seen, [0.3, 0.5, 0.75, 0.75, 1]);
});
