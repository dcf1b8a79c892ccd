import type { FlatnessReport } from './report';

/** Messages from the extension host to the report webview. */
export type ToWebviewMessage = { readonly type: 'report/show'; readonly report: FlatnessReport };

/** Messages from the report webview to the extension host. */
export type FromWebviewMessage = { readonly type: 'report/ready' } | { readonly type: 'report/rerun' };

export function isFromWebviewMessage(value: unknown): value is FromWebviewMessage {
  if (typeof value !== 'object' || value === null) return false;
  const type = (value as { type?: unknown }).type;
  return type === 'report/ready' || type === 'report/rerun';
}
