import { test } from 'node:test';
import assert from 'node:assert/strict';
import { smoothedDensity, visibleDensity } from '../../webview/charts/spectralDensity';

// A bulk near 0 and two outliers, as stochastic Lanczos quadrature finds them for a trained network.
const nodes = [-0.01, 0, 0.02, 11, 46];
const weights = [0.3, 0.4, 0.2996, 2e-4, 2e-4];

test('density line, linear scale: the curve stops where it falls under a thousandth of the peak instead of running along the x axis', () => {
  const smoothed = smoothedDensity(nodes, weights);
  const peak = Math.max(...smoothed.density);
  const { points, floor } = visibleDensity(smoothed.grid, smoothed.density, false);
  assert.equal(floor, peak * 1e-3);
  assert.equal(points.length, smoothed.grid.length);
  points.forEach((p, k) => {
    assert.equal(p.x, smoothed.grid[k]);
    assert.equal(p.y, smoothed.density[k]! >= floor ? smoothed.density[k] : null, `point ${k} at λ = ${p.x}`);
  });
  // Between the bulk and the outliers the line is a gap, and the outliers (a ten-thousandth of the mass) are below it.
  const between = points.filter((p) => p.x > 3 && p.x < 40);
  assert.ok(between.length > 10 && between.every((p) => p.y === null));
  assert.ok(points.some((p) => Math.abs(p.x) < 0.5 && p.y === peak), 'the bulk is drawn');
});

test('density line, log scale: six decades below the peak are drawn, so the outliers show', () => {
  const smoothed = smoothedDensity(nodes, weights);
  const peak = Math.max(...smoothed.density);
  const { points, floor } = visibleDensity(smoothed.grid, smoothed.density, true);
  assert.equal(floor, peak * 1e-6);
  const near = (x: number) => points.filter((p) => Math.abs(p.x - x) < 0.1);
  assert.ok(near(11).some((p) => p.y !== null) && near(46).some((p) => p.y !== null), 'the outliers are drawn');
  points.forEach((p, k) => assert.equal(p.y, smoothed.density[k]! >= floor ? smoothed.density[k] : null, `point ${k} at λ = ${p.x}`));
});

test('density line: no nodes, no line', () => {
  assert.deepEqual(visibleDensity([], [], false).points, []);
});
