import * as fs from 'node:fs';
import * as path from 'node:path';
import { errors, type FrameLocator, type Locator, type Page } from 'playwright-core';

/**
 * The VS Code 1.100 workbench (in code-server) as the scenarios use it. Every wait names the step it
 * belongs to, so a timeout says what did not happen, not which selector was slow.
 */

const quickInput = '.quick-input-widget';
const quickInputBox = `${quickInput} .quick-input-box input`;
const quickInputRows = `${quickInput} .quick-input-list .monaco-list-row`;
// A notification's row holds its item and, beside the item (not inside it), its progress bar.
const toastRows = '.notifications-toasts .monaco-list-row';
const centerRows = '.notifications-center .monaco-list-row';
const sideBar = '#workbench\\.parts\\.sidebar';
const explorerRows = '.explorer-folders-view .monaco-list-row';

/** One row of a list or tree, as read from its DOM. */
export interface RowInfo {
  readonly text: string;
  readonly ariaLabel: string;
  readonly level: number;
  readonly expanded: boolean | undefined;
}

export class StepTimeout extends Error {}

export function normalize(text: string | null | undefined): string {
  return (text ?? '').replace(/\s+/g, ' ').trim();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Calls `probe` until it returns a value other than undefined. `describe` gives what was seen last,
 * for the timeout message.
 */
export async function poll<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, describe?: () => Promise<string>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error instanceof Error ? error.message.split('\n')[0] : String(error);
    }
    if (Date.now() > deadline) break;
    await sleep(150);
  }
  let seen = '';
  if (describe) {
    try {
      seen = await describe();
    } catch (error) {
      seen = `(could not read: ${error instanceof Error ? error.message.split('\n')[0] : String(error)})`;
    }
  }
  throw new StepTimeout(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${seen ? `; seen: ${seen}` : ''}${lastError ? `; last error: ${lastError}` : ''}`);
}

/** locator.waitFor with a message that names the step. */
export async function waitVisible(locator: Locator, what: string, timeoutMs: number): Promise<Locator> {
  try {
    await locator.first().waitFor({ state: 'visible', timeout: timeoutMs });
    return locator.first();
  } catch (error) {
    if (error instanceof errors.TimeoutError) throw new StepTimeout(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    throw error;
  }
}

export async function waitHidden(locator: Locator, what: string, timeoutMs: number): Promise<void> {
  try {
    await locator.first().waitFor({ state: 'hidden', timeout: timeoutMs });
  } catch (error) {
    if (error instanceof errors.TimeoutError) throw new StepTimeout(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    throw error;
  }
}

/**
 * A row's visible text with a space between its parts (label, description, detail): innerText runs
 * them together ('model.jsonexamples/digits-mlp'). Text split only by match highlights stays joined.
 */
function spacedText(row: { ownerDocument: unknown }): string {
  type Node = { nodeType: number; textContent: string | null; parentElement: Element | null };
  type Element = { classList: { length: number; contains(name: string): boolean }; tagName: string; parentElement: Element | null };
  type Walker = { nextNode(): Node | null };
  const doc = row.ownerDocument as { createTreeWalker(root: unknown, whatToShow: number): Walker };
  const walker = doc.createTreeWalker(row, 4 /* NodeFilter.SHOW_TEXT */);
  // No inner functions: tsx wraps named ones in a `__name` helper that does not exist in the page.
  let result = '';
  let previous: Element | null = null;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent ?? '';
    if (!text.trim()) continue;
    // Highlight spans and the plain spans between them belong to the label that holds them.
    let owner = node.parentElement;
    while (owner && (owner.classList.length === 0 || owner.classList.contains('highlight')) && owner.parentElement) owner = owner.parentElement;
    result += (previous && owner !== previous ? ' ' : '') + text;
    previous = owner;
  }
  return result;
}

async function rowInfos(rows: Locator): Promise<RowInfo[]> {
  const infos: RowInfo[] = [];
  for (const row of await rows.all()) {
    const [text, ariaLabel, level, expanded] = await Promise.all([
      row.evaluate(spacedText, undefined, { timeout: 2000 }),
      row.getAttribute('aria-label', { timeout: 2000 }),
      row.getAttribute('aria-level', { timeout: 2000 }),
      row.getAttribute('aria-expanded', { timeout: 2000 }),
    ]);
    infos.push({ text: normalize(text), ariaLabel: normalize(ariaLabel), level: Number(level ?? 0), expanded: expanded === null ? undefined : expanded === 'true' });
  }
  return infos;
}

function listRows(infos: readonly RowInfo[]): string {
  return infos.length === 0 ? '(no rows)' : infos.map((r) => `[${r.level}${r.expanded === undefined ? '' : r.expanded ? '-' : '+'}] ${r.text || r.ariaLabel}`).join(' | ');
}

export class Workbench {
  constructor(
    readonly page: Page,
    private readonly artifacts: string,
  ) {}

  // ---------------------------------------------------------------- screenshots

  /** Saves a screenshot of the whole page; returns its path. */
  async screenshot(name: string): Promise<string> {
    const file = path.join(this.artifacts, `${name}.png`);
    fs.mkdirSync(this.artifacts, { recursive: true });
    await this.page.screenshot({ path: file, timeout: 15_000 });
    return file;
  }

  // ---------------------------------------------------------------- start and reset

  /** Waits for the workbench and the Explorer's rows; returns seconds to each, for the log. */
  async waitReady(timeoutMs: number): Promise<string> {
    const started = Date.now();
    await waitVisible(this.page.locator('.monaco-workbench'), 'the workbench (.monaco-workbench)', timeoutMs);
    const workbench = (Date.now() - started) / 1000;
    await waitVisible(this.page.locator(explorerRows), 'the Explorer to list the workspace folder', timeoutMs);
    return `workbench after ${workbench.toFixed(1)} s, Explorer rows after ${((Date.now() - started) / 1000).toFixed(1)} s`;
  }

  /** Closes pickers, menus, editors and notifications, so a scenario starts from a quiet workbench. */
  async reset(): Promise<void> {
    for (let i = 0; i < 3; i++) await this.page.keyboard.press('Escape');
    await this.runCommand('View: Close All Editors');
    await this.runCommand('Notifications: Clear All Notifications');
  }

  // ---------------------------------------------------------------- command palette and quick picks

  /**
   * F1, type the command's title, choose the entry whose label is exactly that title. Returns when
   * the palette has closed or turned into the command's own quick pick.
   */
  async runCommand(title: string, timeoutMs = 15_000): Promise<void> {
    await this.page.keyboard.press('F1');
    const input = await waitVisible(this.page.locator(quickInputBox), `the command palette to open (for '${title}')`, timeoutMs);
    await input.fill('>' + title);
    const rows = this.page.locator(quickInputRows);
    const index = await poll(
      `'${title}' in the command palette`,
      timeoutMs,
      async () => {
        const infos = await rowInfos(rows);
        const i = infos.findIndex((r) => r.ariaLabel === title || r.ariaLabel.startsWith(title + ',') || r.text === title || r.text.startsWith(title + ' '));
        return i >= 0 ? i : undefined;
      },
      async () => listRows(await rowInfos(rows)),
    );
    await rows.nth(index).click();
    await poll(
      `the command palette to close after choosing '${title}'`,
      timeoutMs,
      async () => ((await input.isVisible()) && (await input.inputValue()) === '>' + title ? undefined : true),
    );
  }

  /** The open quick pick's placeholder or title, '' when none is open. */
  async quickPickPrompt(): Promise<string | undefined> {
    const input = this.page.locator(quickInputBox);
    if (!(await input.isVisible())) return undefined;
    const title = normalize(await this.page.locator(`${quickInput} .quick-input-title`).innerText({ timeout: 1000 }).catch(() => ''));
    const placeholder = normalize(await input.getAttribute('placeholder', { timeout: 1000 }));
    return [title, placeholder].filter(Boolean).join(' / ');
  }

  async quickPickItems(): Promise<RowInfo[]> {
    if (!(await this.page.locator(quickInputBox).isVisible())) return [];
    return rowInfos(this.page.locator(quickInputRows));
  }

  /** Waits for a quick pick whose items include one matching `matches`, and picks it. */
  async pickQuickItem(what: string, matches: (item: RowInfo) => boolean, timeoutMs = 20_000): Promise<RowInfo> {
    const rows = this.page.locator(quickInputRows);
    const index = await poll(
      `${what} in a quick pick`,
      timeoutMs,
      async () => {
        if (!(await this.page.locator(quickInputBox).isVisible())) return undefined;
        const i = (await rowInfos(rows)).findIndex(matches);
        return i >= 0 ? i : undefined;
      },
      async () => {
        const prompt = await this.quickPickPrompt();
        return prompt === undefined ? 'no quick pick open' : `quick pick '${prompt}' with items ${listRows(await this.quickPickItems())}`;
      },
    );
    const chosen = (await rowInfos(rows))[index];
    await rows.nth(index).click();
    return chosen;
  }

  // ---------------------------------------------------------------- notifications

  /** Visible toasts' messages, with their severity. */
  async toasts(): Promise<{ message: string; severity: 'error' | 'warning' | 'info'; progress: boolean }[]> {
    const result = [];
    for (const item of await this.page.locator(toastRows).all()) {
      if (!(await item.isVisible())) continue;
      const message = normalize(await item.locator('.notification-list-item-message').innerText({ timeout: 2000 }));
      const icon = (await item.locator('.notification-list-item-icon').getAttribute('class', { timeout: 2000 }).catch(() => '')) ?? '';
      const severity = /codicon-error/.test(icon) ? 'error' : /codicon-warning/.test(icon) ? 'warning' : 'info';
      const progress = await item.locator('.monaco-progress-container.active').isVisible();
      result.push({ message, severity, progress } as const);
    }
    return result;
  }

  async describeToasts(): Promise<string> {
    const toasts = await this.toasts();
    return toasts.length === 0 ? 'no notifications' : toasts.map((t) => `[${t.severity}${t.progress ? ', progress' : ''}] ${t.message}`).join(' | ');
  }

  /** A toast whose message matches; its text. Also looks in the notification center (toasts hide after a while). */
  async waitForNotification(what: string, matches: (message: string, severity: string) => boolean, timeoutMs: number): Promise<string> {
    return poll(
      what,
      timeoutMs,
      async () => {
        for (const toast of await this.toasts()) if (matches(toast.message, toast.severity)) return toast.message;
        for (const item of await this.page.locator(centerRows).all()) {
          if (!(await item.isVisible())) continue;
          const message = normalize(await item.locator('.notification-list-item-message').innerText({ timeout: 2000 }));
          const icon = (await item.locator('.notification-list-item-icon').getAttribute('class', { timeout: 2000 }).catch(() => '')) ?? '';
          if (matches(message, /codicon-error/.test(icon) ? 'error' : /codicon-warning/.test(icon) ? 'warning' : 'info')) return message;
        }
        return undefined;
      },
      () => this.describeToasts(),
    );
  }

  /** Toasts that show a running progress bar (class 'active' while infinite or partly done). */
  progressToast(): Locator {
    return this.page.locator(toastRows).filter({ has: this.page.locator('.monaco-progress-container.active') });
  }

  // ---------------------------------------------------------------- side bar views

  /** Clicks the activity bar item, then waits for the side bar to show it. */
  async openViewContainer(name: string, timeoutMs = 15_000): Promise<void> {
    const item = this.page.locator(`.part.activitybar .action-item[aria-label^="${name}"], .part.activitybar .action-label[aria-label^="${name}"]`);
    await poll(
      `'${name}' in the activity bar`,
      timeoutMs,
      async () => ((await item.count()) > 0 ? true : undefined),
      async () => {
        const labels = await this.page.locator('.part.activitybar .action-item').evaluateAll((items) => items.map((i) => i.getAttribute('aria-label') ?? ''));
        return `activity bar items: ${labels.filter(Boolean).join(', ')}`;
      },
    );
    // Clicking the item of the container already shown hides the side bar: click only when it is not shown.
    const title = this.page.locator(`${sideBar} .composite.title`).filter({ hasText: new RegExp(name, 'i') });
    if (!(await title.isVisible())) await item.first().click();
    await waitVisible(title, `the side bar to show '${name}'`, timeoutMs);
  }

  /** Makes sure a view of the open container is expanded (its header is hidden when it is the only view). */
  async expandView(name: string, timeoutMs = 10_000): Promise<void> {
    const header = this.page.locator(`${sideBar} .pane-header[aria-label^="${name}"]`);
    const title = this.page.locator(`${sideBar} .composite.title`).filter({ hasText: new RegExp(name, 'i') });
    await poll(
      `the '${name}' view in the side bar`,
      timeoutMs,
      async () => ((await header.isVisible()) || (await title.isVisible()) ? true : undefined),
      async () => normalize(await this.page.locator(sideBar).innerText({ timeout: 2000 })).slice(0, 300),
    );
    if ((await header.isVisible()) && (await header.getAttribute('aria-expanded')) !== 'true') await header.click();
  }

  sideBarRows(): Locator {
    return this.page.locator(`${sideBar} .pane-body .monaco-list-row`);
  }

  async sideBarRowInfos(): Promise<RowInfo[]> {
    return rowInfos(this.sideBarRows());
  }

  describeRows(infos: readonly RowInfo[]): string {
    return listRows(infos);
  }

  /** Expands every collapsed row of the side bar's trees (small trees only). */
  async expandAllSideBarRows(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const infos = await this.sideBarRowInfos();
      const collapsed = infos.findIndex((r) => r.expanded === false);
      if (collapsed < 0 || Date.now() > deadline) return;
      await this.sideBarRows().nth(collapsed).locator('.monaco-tl-twistie').click();
      await sleep(150);
    }
  }

  // ---------------------------------------------------------------- explorer

  async openExplorer(): Promise<void> {
    await this.runCommand('View: Show Explorer');
    await waitVisible(this.page.locator(explorerRows), 'Explorer rows', 10_000);
  }

  /**
   * The Explorer row of a workspace-relative path, expanding its folders on the way (compact
   * folders are off in the run's user settings, so there is one row per folder).
   */
  async explorerRow(relativePath: string, timeoutMs = 20_000): Promise<Locator> {
    const rows = this.page.locator(explorerRows);
    const segments = relativePath.split('/');
    let parentIndex = -1;
    for (let depth = 0; depth < segments.length; depth++) {
      const name = segments[depth];
      const isLast = depth === segments.length - 1;
      parentIndex = await poll(
        `'${segments.slice(0, depth + 1).join('/')}' in the Explorer`,
        timeoutMs,
        async () => {
          const infos = await rowInfos(rows);
          const parentLevel = parentIndex >= 0 ? infos[parentIndex]?.level ?? 0 : 0;
          for (let i = parentIndex + 1; i < infos.length; i++) {
            if (parentIndex >= 0 && infos[i].level <= parentLevel) break;
            if (infos[i].ariaLabel === name && (parentIndex < 0 || infos[i].level === parentLevel + 1)) return i;
          }
          return undefined;
        },
        async () => listRows(await rowInfos(rows)),
      );
      if (!isLast && (await rows.nth(parentIndex).getAttribute('aria-expanded')) === 'false') {
        await rows.nth(parentIndex).click();
        await poll(`'${segments.slice(0, depth + 1).join('/')}' to expand in the Explorer`, timeoutMs, async () => ((await rows.nth(parentIndex).getAttribute('aria-expanded')) === 'true' ? true : undefined));
      }
    }
    return rows.nth(parentIndex);
  }

  // ---------------------------------------------------------------- context menus

  /** Right-clicks `target` and chooses the menu item whose label contains `label`. */
  async contextMenu(target: Locator, label: string, timeoutMs = 10_000): Promise<void> {
    await target.click({ button: 'right' });
    // The menu fades in; clicking during the animation misses (notes: ~300 ms).
    await sleep(300);
    const items = this.page.locator('.monaco-menu .action-item:not(.disabled)').filter({ hasText: label });
    await poll(
      `'${label}' in the context menu`,
      timeoutMs,
      async () => ((await items.count()) > 0 ? true : undefined),
      async () => {
        const all = await this.page.locator('.monaco-menu .action-item .action-label').allInnerTexts();
        return all.length ? `menu items: ${all.map(normalize).filter(Boolean).join(', ')}` : 'no context menu open';
      },
    );
    await items.first().click();
  }

  // ---------------------------------------------------------------- editors and webviews

  /** The editor tab whose label is exactly `title`. */
  tab(title: string): Locator {
    return this.page.locator('.tabs-container .tab').filter({ has: this.page.getByText(title, { exact: true }) });
  }

  async tabTitles(): Promise<string[]> {
    return (await this.page.locator('.tabs-container .tab .label-name').allInnerTexts()).map(normalize);
  }

  async waitForTab(title: string, timeoutMs: number, extra?: () => Promise<string>): Promise<void> {
    await poll(
      `an editor tab titled '${title}'`,
      timeoutMs,
      async () => ((await this.tab(title).count()) > 0 ? true : undefined),
      async () => `tabs: ${(await this.tabTitles()).join(', ') || '(none)'}; ${await this.describeToasts()}${extra ? '; ' + (await extra()) : ''}`,
    );
  }

  /**
   * The content frame of the webview whose page has `heading` as its h1 (the outer iframe hosts the
   * extension's page in #active-frame). Several report panels can be open side by side.
   */
  async webviewWithHeading(heading: string, timeoutMs: number): Promise<FrameLocator> {
    const outer = this.page.locator('iframe.webview.ready');
    const headings = async (): Promise<{ name: string; h1: string }[]> => {
      const found = [];
      for (let i = 0; i < (await outer.count()); i++) {
        const name = (await outer.nth(i).getAttribute('name', { timeout: 2000 })) ?? '';
        const page = this.page.frameLocator(`iframe.webview.ready[name="${name}"]`).frameLocator('iframe#active-frame');
        const h1 = page.locator('h1');
        if ((await h1.count()) > 0) {
          found.push({ name, h1: normalize(await h1.first().innerText({ timeout: 2000 })) });
        } else {
          // For a diagnosis: the page's text, and how many elements its <main> holds (the report script replaces the HTML's one placeholder by two).
          const text = normalize(await page.locator('body').innerText({ timeout: 2000 }).catch(() => '')).slice(0, 80);
          const children = await page.locator('main > *').count().catch(() => -1);
          found.push({ name, h1: `(no h1; text '${text}'; ${children} element(s) in <main>)` });
        }
      }
      return found;
    };
    const name = await poll(
      `a webview whose heading is '${heading}'`,
      timeoutMs,
      async () => (await headings()).find((h) => h.h1 === heading)?.name,
      async () => {
        const found = await headings();
        return found.length ? `webviews with headings: ${found.map((h) => `'${h.h1}'`).join(', ')}` : 'no webview is ready';
      },
    );
    return this.page.frameLocator(`iframe.webview.ready[name="${name}"]`).frameLocator('iframe#active-frame');
  }

  // ---------------------------------------------------------------- output channel

  /** Shows an output channel in the panel and returns its text (the visible part of its editor). */
  async outputChannelText(channel: string): Promise<string> {
    await this.runCommand('Output: Show Output Channels...');
    await this.pickQuickItem(`the output channel '${channel}'`, (r) => r.text === channel || r.ariaLabel === channel || r.text.startsWith(channel));
    const lines = this.page.locator('.part.panel .monaco-editor .view-lines');
    await waitVisible(lines, `the Output panel showing '${channel}'`, 10_000);
    await sleep(300);
    return lines.first().innerText();
  }
}
