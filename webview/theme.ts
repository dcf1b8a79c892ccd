/** Colours and fonts of the current VS Code theme, read from its CSS variables. */
export interface ChartTheme {
  readonly foreground: string;
  readonly mutedForeground: string;
  readonly border: string;
  readonly background: string;
  readonly blue: string;
  readonly red: string;
  readonly green: string;
  readonly orange: string;
  readonly purple: string;
  readonly yellow: string;
  readonly fontFamily: string;
  readonly fontSize: number;
}

/** Fallbacks (VS Code's Dark Modern values) for when a variable is missing, e.g. outside VS Code. */
const fallbacks = {
  '--vscode-foreground': '#cccccc',
  '--vscode-descriptionForeground': '#9d9d9d',
  '--vscode-panel-border': '#2b2b2b',
  '--vscode-editor-background': '#1f1f1f',
  '--vscode-charts-blue': '#3794ff',
  '--vscode-charts-red': '#f14c4c',
  '--vscode-charts-green': '#89d185',
  '--vscode-charts-orange': '#d18616',
  '--vscode-charts-purple': '#b180d7',
  '--vscode-charts-yellow': '#cca700',
  '--vscode-font-family': 'system-ui, sans-serif',
} as const;

export function readTheme(): ChartTheme {
  const style = getComputedStyle(document.body);
  const read = (name: keyof typeof fallbacks): string => style.getPropertyValue(name).trim() || fallbacks[name];
  return {
    foreground: read('--vscode-foreground'),
    mutedForeground: read('--vscode-descriptionForeground'),
    border: read('--vscode-panel-border'),
    background: read('--vscode-editor-background'),
    blue: read('--vscode-charts-blue'),
    red: read('--vscode-charts-red'),
    green: read('--vscode-charts-green'),
    orange: read('--vscode-charts-orange'),
    purple: read('--vscode-charts-purple'),
    yellow: read('--vscode-charts-yellow'),
    fontFamily: read('--vscode-font-family'),
    fontSize: Number.parseFloat(style.fontSize) || 13,
  };
}

/** Series colours in order, for charts with one line per checkpoint or per tensor. */
export function seriesColours(theme: ChartTheme): readonly string[] {
  return [theme.blue, theme.red, theme.green, theme.orange, theme.purple, theme.yellow];
}

/** Parses any CSS colour the browser understands to [r, g, b] (via a 1×1 canvas, so names and hsl work too). */
export function colourToRgb(colour: string): [number, number, number] {
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 1;
  const context = canvas.getContext('2d');
  if (!context) return [128, 128, 128];
  context.fillStyle = '#808080';
  context.fillStyle = colour;
  context.fillRect(0, 0, 1, 1);
  const [r, g, b] = context.getImageData(0, 0, 1, 1).data;
  return [r ?? 128, g ?? 128, b ?? 128];
}

/** The colour with the given opacity, as rgba(). */
export function withAlpha(colour: string, alpha: number): string {
  const [r, g, b] = colourToRgb(colour);
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

/**
 * Calls `onChange` when VS Code switches theme: it swaps the body's `vscode-light` / `vscode-dark` /
 * `vscode-high-contrast` class and the CSS variables together.
 */
export function observeThemeChanges(onChange: () => void): void {
  let previous = document.body.className;
  new MutationObserver(() => {
    if (document.body.className === previous) return;
    previous = document.body.className;
    onChange();
  }).observe(document.body, { attributes: true, attributeFilter: ['class'] });
}
