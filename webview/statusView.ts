import { progressText, type AnalysisProgress } from '../src/protocol/report';
import { button, element } from './dom';
import { vscode } from './vscodeApi';

/** The strip above the content: analysis progress, a failure, or nothing. */
export class StatusView {
  readonly element = element('div', undefined, 'status');

  constructor() {
    this.element.setAttribute('aria-live', 'polite');
  }

  showProgress(progress: AnalysisProgress): void {
    const fraction = Math.min(1, Math.max(0, progress.fraction));
    let box = this.element.querySelector<HTMLElement>('.progress-box');
    if (!box) {
      box = element('div', undefined, 'progress-box');
      const bar = element('progress');
      bar.max = 1;
      bar.id = 'analysis-progress';
      const label = element('label', undefined, 'progress-label');
      label.htmlFor = bar.id;
      const cancel = button('Cancel', () => {
        cancel.disabled = true;
        cancel.textContent = 'Cancelling…';
        vscode.postMessage({ type: 'report/cancel' });
      }, 'Stop this analysis');
      cancel.className = 'secondary cancel';
      box.append(label, bar, cancel);
      this.element.replaceChildren(box);
    }
    const bar = box.querySelector('progress')!;
    bar.value = fraction;
    box.querySelector('.progress-label')!.textContent = `${progress.stage}: ${progressText(progress)} (${Math.round(fraction * 100)}%)`;
  }

  showFailure(message: string): void {
    if (/cancel/i.test(message)) {
      const note = element('p', `Analysis cancelled. ${message === 'cancelled' ? '' : message}`.trim(), 'muted cancelled');
      note.setAttribute('role', 'status');
      this.element.replaceChildren(note);
      return;
    }
    const box = element('div', undefined, 'error-box');
    box.setAttribute('role', 'alert');
    box.append(element('strong', 'The analysis failed. '), element('span', message));
    this.element.replaceChildren(box);
  }

  clear(): void {
    this.element.replaceChildren();
  }
}
