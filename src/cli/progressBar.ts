import { progressText, type AnalysisProgress } from '../protocol/report';

/**
 * Progress on stderr: a redrawn bar on a terminal, or one line per step (and at most every
 * 10 seconds within one) when stderr is a file or a CI log, so logs stay readable.
 */
export class ProgressBar {
  private lastStage = '';
  private lastLine = 0;
  private readonly started = Date.now();

  constructor(private readonly stream: Pick<NodeJS.WriteStream, 'write' | 'isTTY' | 'columns'>, private readonly enabled: boolean) {}

  update(progress: AnalysisProgress): void {
    if (!this.enabled) return;
    const percent = Math.round(progress.fraction * 100);
    const elapsed = ((Date.now() - this.started) / 1000).toFixed(1);
    if (this.stream.isTTY) {
      const width = 28;
      const filled = Math.round(progress.fraction * width);
      const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
      const text = `${bar} ${String(percent).padStart(3)}%  ${elapsed}s  ${progressText(progress)}`;
      this.stream.write(`\r${text.slice(0, (this.stream.columns || 100) - 1).padEnd(Math.min(this.stream.columns || 100, 100) - 1)}`);
    } else if (progress.message !== this.lastStage || Date.now() - this.lastLine > 10_000) {
      this.stream.write(`[${String(percent).padStart(3)}%] ${elapsed}s ${progressText(progress)}\n`);
      this.lastLine = Date.now();
    }
    this.lastStage = progress.message;
  }

  finish(): void {
    if (this.enabled && this.stream.isTTY) this.stream.write('\r\x1b[K');
  }
}
