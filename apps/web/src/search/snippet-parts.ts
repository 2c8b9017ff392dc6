import type { Message } from '@parley/client';

/** A piece of a search snippet: plain text, or a part the query matched (shown in <mark>). */
export interface SnippetPart {
  readonly text: string;
  readonly match: boolean;
}

/**
 * Cuts a snippet at its match ranges (UTF-16 offsets, end exclusive, as the
 * SDK returns them). Ranges out of bounds, empty, or overlapping one already
 * taken are ignored rather than trusted: the snippet is always shown whole.
 */
export function snippetParts(snippet: string, matches: readonly { readonly start: number; readonly end: number }[]): SnippetPart[] {
  const parts: SnippetPart[] = [];
  let at = 0;
  for (const r of [...matches].sort((a, b) => a.start - b.start)) {
    const start = Math.max(r.start, at);
    const end = Math.min(r.end, snippet.length);
    if (!Number.isInteger(start) || !Number.isInteger(end) || end <= start) continue;
    if (start > at) parts.push({ text: snippet.slice(at, start), match: false });
    parts.push({ text: snippet.slice(start, end), match: true });
    at = end;
  }
  if (at < snippet.length) parts.push({ text: snippet.slice(at), match: false });
  return parts;
}

/** Whether a result's snippet still comes from this (maybe edited) message: each piece between the "…" cuts is in its text. */
export function snippetStillIn(snippet: string, m: Pick<Message, 'content'>): boolean {
  const c = m.content;
  const text = c.type === 'text' ? c.text : c.type === 'attachment' ? `${c.caption ?? ''} ${c.fileName}` : '';
  return snippet
    .split('…')
    .map((piece) => piece.trim())
    .every((piece) => piece === '' || text.includes(piece));
}
