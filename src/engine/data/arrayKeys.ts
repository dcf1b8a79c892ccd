import type { LoadDatasetOptions } from '../../protocol/requests';

/** Names under which data sets commonly store inputs and labels, tried in this order. */
export const STANDARD_KEY_PAIRS: readonly (readonly [string, string])[] = [
  ['x', 'y'],
  ['X', 'Y'],
  ['X', 'y'],
  ['inputs', 'labels'],
  ['images', 'labels'],
  ['x_test', 'y_test'],
  ['x_train', 'y_train'],
];

export type KeyChoice =
  | { readonly found: true; readonly inputKey: string; readonly labelKey: string }
  | { readonly found: false; readonly problem: string };

/** Picks the inputs and labels among `available` names: the options' keys, else the first standard pair present. */
export function chooseArrayKeys(available: readonly string[], options: LoadDatasetOptions, what: string): KeyChoice {
  const has = (key: string) => available.includes(key);
  const standard = STANDARD_KEY_PAIRS.find(([input, label]) => has(input) && has(label));
  const inputKey = options.inputKey ?? standard?.[0];
  const labelKey = options.labelKey ?? standard?.[1];
  const listed = available.length === 0 ? 'none' : available.map((key) => `'${key}'`).join(', ');
  for (const [key, option] of [[options.inputKey, 'inputKey'], [options.labelKey, 'labelKey']] as const) {
    if (key !== undefined && !has(key)) {
      return { found: false, problem: `no ${what} named '${key}' (from ${option}); found ${listed}` };
    }
  }
  if (inputKey === undefined || labelKey === undefined) {
    const pairs = STANDARD_KEY_PAIRS.map(([input, label]) => `${input}/${label}`).join(', ');
    return {
      found: false,
      problem: `no inputs and labels ${what}s found; found ${listed}; expected one of ${pairs}, or set inputKey and labelKey`,
    };
  }
  return { found: true, inputKey, labelKey };
}
