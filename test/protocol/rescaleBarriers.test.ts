import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summarizeBarriers } from '../../src/protocol/rescaleResult';

test('summarizeBarriers: one line per reason, most frequent first, the formula cut, the first names and a count of the rest', () => {
  const relu6 = (layer: string) => ({ layer, reason: 'ReLU6 (ReLU with max_value 6) clips at a fixed value, so it is not positively homogeneous: min(max(αx, 0), 6) ≠ α·min(max(x, 0), 6)' });
  const lines = summarizeBarriers([
    { layer: 'add_1', reason: 'Add needs the same scale on every input' },
    relu6('a.Clip'),
    relu6('b.Clip'),
    relu6('c.Clip'),
    relu6('d.Clip'),
  ], 2);
  assert.deepEqual(lines, [
    "4 layers: ReLU6 (ReLU with max_value 6) clips at a fixed value, so it is not positively homogeneous ('a.Clip', 'b.Clip' and 2 more)",
    "1 layer: Add needs the same scale on every input ('add_1')",
  ]);
  assert.deepEqual(summarizeBarriers([]), []);
});
