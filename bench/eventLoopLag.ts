import * as path from 'node:path';
import { AnalyzerClient } from '../src/host/analyzerClient';

/**
 * The extension host's responsiveness while an analysis runs: the host only forwards messages to the
 * forked analyzer, so its event loop should stay free. Measures the lag of a 10 ms timer (how late
 * each tick fires) in this process — playing the extension host, with the same AnalyzerClient —
 * while the analyzer process analyzes the bundled example. Goal: p99 under 20 ms.
 */
export async function measureEventLoopLag(distDir: string, exampleDir: string): Promise<{ samples: number; p50Ms: number; p99Ms: number; maxMs: number; progressMessages: number; analysisSeconds: number }> {
  const analyzer = new AnalyzerClient({ script: path.join(distDir, 'analyzer.js'), log: () => undefined });
  const lags: number[] = [];
  let expected = performance.now() + 10;
  const timer = setInterval(() => {
    const now = performance.now();
    lags.push(Math.max(0, now - expected));
    expected = now + 10;
  }, 10);
  let progressMessages = 0;
  const t0 = performance.now();
  try {
    await analyzer.analyze(
      { checkpoint: path.join(exampleDir, 'model.json'), data: path.join(exampleDir, 'digits.csv.gz'), metrics: ['loss', 'eigenvalues', 'trace', 'density', 'sharpness'] },
      () => progressMessages++,
    ).done;
  } finally {
    clearInterval(timer);
    analyzer.dispose();
  }
  const sorted = [...lags].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { samples: lags.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: sorted[sorted.length - 1], progressMessages, analysisSeconds: (performance.now() - t0) / 1000 };
}
