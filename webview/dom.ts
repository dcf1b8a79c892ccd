import { escapeControlCharacters } from '../src/protocol/safeText';

/** Creates an element with optional text (control characters shown escaped) and class names. */
export function element<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = escapeControlCharacters(text);
  if (className) e.className = className;
  return e;
}

export function button(label: string, onClick: () => void, title?: string): HTMLButtonElement {
  const b = element('button', label);
  b.type = 'button';
  if (title) b.title = title;
  b.addEventListener('click', onClick);
  return b;
}

/** The last two path segments (`folder/model.json`): enough to tell checkpoints apart, short enough for a header. */
export function shortPath(path: string): string {
  return path.split(/[\\/]/).slice(-2).join('/');
}

export function fileName(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}

/** The banner saying the file changed since the report was made. */
export function staleBanner(): HTMLElement {
  const banner = element('p', 'The file changed since this analysis: these numbers describe the previous version. Re-run to update them.', 'stale-banner');
  banner.setAttribute('role', 'status');
  return banner;
}

/** The reader's notes on a checkpoint, as a list. */
export function checkpointNotes(notes: readonly string[]): HTMLElement {
  const list = element('ul', undefined, 'notes');
  list.setAttribute('aria-label', 'Checkpoint notes');
  for (const note of notes) list.append(element('li', note));
  return list;
}
