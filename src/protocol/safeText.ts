/**
 * Control characters (C0 and C1, DEL) and bidirectional overrides in `text`, written as visible
 * escapes (`\x1b`, `\u202e`), so a file or tensor name cannot move the cursor, recolour or clear a
 * terminal, forge lines in a log, or reorder what a reader sees. Newlines and tabs are kept when
 * `keepLineBreaks` is true (for multi-line messages), escaped otherwise (for one name).
 */
export function escapeControlCharacters(text: string, keepLineBreaks = true): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    if (keepLineBreaks && (c === '\n' || c === '\t')) return c;
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
