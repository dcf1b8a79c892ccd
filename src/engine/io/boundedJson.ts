import { FileProblem } from '../../protocol/errors';
import { limits } from '../../protocol/limits';

/**
 * The deepest nesting of lists and objects in JSON text, found by one scan that skips strings, so
 * a crafted file is refused before a parser or a recursive walk can overflow the stack.
 */
export function jsonNestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) deepest = Math.max(deepest, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

/** JSON.parse, after refusing text nested deeper than the jsonNesting limit; messages name `file`. */
export function parseBoundedJson(file: string, text: string, maxDepth: number = limits.jsonNesting.value): unknown {
  const depth = jsonNestingDepth(text);
  if (depth > maxDepth) throw new FileProblem(file, `nests lists and objects ${depth} levels deep, more than the ${maxDepth}-level limit (${limits.jsonNesting.what})`);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new FileProblem(file, `not valid JSON: ${(error as Error).message}`);
  }
}
