import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isToAnalyzerMessage } from '../../src/protocol/analyzerProtocol';
import { isFromWebviewMessage } from '../../src/protocol/webviewProtocol';

test('webview messages with unexpected content are rejected', () => {
  const png = 'data:image/png;base64,iVBORw0KGgo=';
  for (const ok of [{ type: 'report/ready' }, { type: 'report/rerun' }, { type: 'compare/ready' }, { type: 'report/rescale', mode: 'flatten' }, { type: 'report/export', format: 'csv' }, { type: 'report/export', format: 'html' }, { type: 'report/cancel' }, { type: 'report/openOriginal' }, { type: 'report/exportChart', chart: 'alpha-orbit', dataUrl: png }, { type: 'trajectory/ready' }, { type: 'trajectory/openPoint', step: 1200 }, { type: 'trajectory/export', format: 'csv' }, { type: 'report/exportChart', chart: 'run-lambda', dataUrl: png }]) {
    assert.equal(isFromWebviewMessage(ok), true, JSON.stringify(ok));
  }
  for (const bad of [
    null, 42, 'report/ready', {}, { type: 'report/delete' }, { type: 'report/rescale', mode: 'explode' }, { type: 'report/export', format: 'exe' },
    { type: 'report/exportChart', chart: '../../etc/passwd', dataUrl: png },
    { type: 'report/exportChart', chart: 'eigenvalues', dataUrl: 'data:text/html;base64,PHNjcmlwdD4=' },
    { type: 'report/exportChart', chart: 'eigenvalues', dataUrl: 'javascript:alert(1)' },
    { type: 'trajectory/openPoint', step: '12' }, { type: 'trajectory/openPoint' }, { type: 'trajectory/openPoint', step: Number.NaN }, { type: 'trajectory/export', format: 'html' },
  ]) {
    assert.equal(isFromWebviewMessage(bad), false, JSON.stringify(bad));
  }
});

test('analyzer messages are checked before a job starts', () => {
  assert.equal(isToAnalyzerMessage({ type: 'analyze', id: 1, request: { checkpoint: '/m.json' } }), true);
  assert.equal(isToAnalyzerMessage({ type: 'rescale', id: 2, request: { checkpoint: '/m.json', mode: 'flatten' } }), true);
  assert.equal(isToAnalyzerMessage({ type: 'compareOutputs', id: 3, request: { first: { checkpoint: '/a.json' }, second: '/b.json' } }), true);
  assert.equal(isToAnalyzerMessage({ type: 'cancel', id: 4 }), true);
  assert.equal(isToAnalyzerMessage({ type: 'dataCandidates', id: 5, request: { model: { checkpoint: '/m.json' }, files: ['/d.csv'] } }), true);
  for (const bad of [{ model: { checkpoint: '/m.json' } }, { model: { checkpoint: '/m.json' }, files: ['/d.csv', 7] }, { files: [] }]) {
    assert.equal(isToAnalyzerMessage({ type: 'dataCandidates', id: 6, request: bad }), false, JSON.stringify(bad));
  }
  assert.equal(isToAnalyzerMessage({ type: 'describe', id: 5, request: { checkpoint: '/w.safetensors', contentHash: false } }), true);
  for (const bad of [undefined, { type: 'analyze', request: { checkpoint: 'x' } }, { type: 'analyze', id: 1 }, { type: 'analyze', id: 1, request: { checkpoint: 3 } }, { type: 'shell', id: 1, request: { checkpoint: 'x' } }, { type: 'compareOutputs', id: 1, request: { second: 'b' } }, { type: 'describe', id: 1, request: {} }, { type: 'describe', id: 1, request: { checkpoint: 'x' } }]) {
    assert.equal(isToAnalyzerMessage(bad), false, JSON.stringify(bad));
  }
});
