/** The `@prefix` being typed at the caret, if any: where it starts and what follows the `@`. */
export function mentionAt(text: string, caret: number): { start: number; prefix: string } | null {
  const match = /(^|\s)@([A-Za-z0-9_]{0,20})$/.exec(text.slice(0, caret));
  return match ? { start: caret - match[2].length - 1, prefix: match[2] } : null;
}
