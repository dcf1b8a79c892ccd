import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kendallTauB } from '../../src/engine/runs/kendallTau';

// Expected values from scipy 1.10.1, computed once:
//   from scipy.stats import kendalltau; kendalltau(x, y).statistic   (τ-b, the default)
const scipyCases: { name: string; x: number[]; y: number[]; tau: number }[] = [
  { name: 'ordered', x: [1, 2, 3, 4, 5], y: [2, 4, 6, 8, 10], tau: 0.9999999999999999 },
  { name: 'reversed', x: [1, 2, 3, 4, 5], y: [5, 4, 3, 2, 1], tau: -0.9999999999999999 },
  { name: 'ties in both', x: [1, 2, 2, 3, 4, 4, 5], y: [3, 1, 2, 2, 5, 6, 4], tau: 0.4103913408340616 },
  { name: 'no ties', x: [0.5, 1.7, 0.2, 3.3, 2.8, 1.1, 4.0, 2.2], y: [1.2, 0.9, 0.4, 2.5, 3.1, 0.3, 2.2, 2.9], tau: 0.42857142857142855 },
  { name: 'many ties', x: [1, 1, 2, 2, 3, 3], y: [1, 2, 1, 2, 2, 3], tau: 0.5222329678670936 },
];

for (const { name, x, y, tau } of scipyCases) {
  test(`Kendall τ-b matches scipy: ${name}`, () => {
    const value = kendallTauB(x, y);
    assert.ok(value !== null);
    assert.ok(Math.abs(value - tau) < 1e-12, `${value} vs scipy ${tau}`);
    assert.ok(Math.abs(kendallTauB(y, x)! - tau) < 1e-12, 'symmetric in its arguments');
  });
}

test('Kendall τ: undefined for constant or too-short samples, non-finite pairs left out, lengths checked', () => {
  assert.equal(kendallTauB([1, 1, 1], [1, 2, 3]), null);
  assert.equal(kendallTauB([1], [2]), null);
  assert.equal(kendallTauB([1, Number.NaN, 2, 3], [1, 5, 2, 3]), 1);
  assert.throws(() => kendallTauB([1, 2], [1]), /different lengths/);
});
