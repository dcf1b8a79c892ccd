import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchesAny } from '../../../src/host/checkpoints/globMatch';

test('exclude globs match as VS Code globs do', () => {
  assert.equal(matchesAny('node_modules/pkg/model.json', ['**/node_modules/**']), true);
  assert.equal(matchesAny('a/node_modules/pkg/model.json', ['**/node_modules/**']), true);
  assert.equal(matchesAny('models/model.json', ['**/node_modules/**']), false);
  assert.equal(matchesAny('models/big/model.json', ['models/*/model.json']), true);
  assert.equal(matchesAny('models/big/deep/model.json', ['models/*/model.json']), false);
  assert.equal(matchesAny('runs/run1/model.json', ['runs/{run1,run2}/**']), true);
  assert.equal(matchesAny('runs/run3/model.json', ['runs/{run1,run2}/**']), false);
  assert.equal(matchesAny('a.b/model.json', ['a?b/*.json']), true);
  assert.equal(matchesAny('a+b/model.json', ['a.b/*.json']), false, 'dots are literal');
});
