import { test } from 'node:test';
import assert from 'node:assert/strict';
import { logTickLabel } from '../../webview/charts/logTicks';

/** The ticks chart.js generates on a log axis: 1, 1.1, 1.2, 1.3, 1.5, 2, 2.5, 3 … 9 times each power of ten in range. */
function generatedTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let k = Math.floor(Math.log10(lo)); k <= Math.ceil(Math.log10(hi)); k++) {
    for (const m of [1, 1.1, 1.2, 1.3, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9]) {
      const v = m * 10 ** k;
      if (v >= lo * (1 - 1e-12) && v <= hi * (1 + 1e-12)) out.push(v);
    }
  }
  return out;
}

function labels(lo: number, hi: number): string[] {
  const ticks = generatedTicks(lo, hi);
  return ticks.map((v) => logTickLabel(v, ticks[0], ticks[ticks.length - 1])).filter((l) => l !== '');
}

test('log-axis labels: few and readable within a decade, over a few decades and over many', () => {
  assert.deepEqual(labels(1, 7), ['1', '1.5', '2', '3', '5', '7']);
  assert.deepEqual(labels(0.9, 40), ['1', '2', '5', '10', '20']);
  assert.deepEqual(labels(1e-6, 0.3), ['1e-6', '1e-5', '1e-4', '0.001', '0.01', '0.1']);
  assert.deepEqual(labels(0.05, 2000), ['0.1', '1', '10', '100', '1000']);
  assert.deepEqual(labels(3e-5, 2e-4), ['3e-5', '5e-5', '7e-5', '1e-4', '1.5e-4', '2e-4']);
  for (const [lo, hi] of [[1, 9.9], [0.2, 80], [1e-9, 1e9], [3, 3.5], [17, 4000]]) {
    const shown = labels(lo, hi);
    assert.ok(shown.length >= 1 && shown.length <= 10, `${lo}..${hi}: ${shown.length} labels (${shown.join(' ')})`);
  }
  assert.equal(logTickLabel(0, 1, 10), '', 'no label at 0 or below');
});
