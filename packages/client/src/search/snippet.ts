import { fold } from './tokenize.js';

/** A match in a snippet: UTF-16 offsets, `end` exclusive. */
export interface MatchRange {
  readonly start: number;
  readonly end: number;
}

/** Characters of context kept before the first match, and the snippet's length at most. */
const BEFORE = 40;
const SNIPPET_CHARS = 160;

const segmenter = new Intl.Segmenter(undefined, { granularity: 'word' });

/**
 * Where the query terms match in `text`: each word whose folded form starts
 * with a term (or, for words the segmenter grouped, contains it — 大学 in
 * 北京大学); the range is narrowed to the term when folding kept the length.
 */
export function matchRanges(text: string, terms: readonly string[]): MatchRange[] {
  const out: MatchRange[] = [];
  for (const s of segmenter.segment(text)) {
    const folded = fold(s.segment).replace(/[\uFE0E\uFE0F]/g, '');
    for (const t of terms) {
      const at = folded.indexOf(t);
      if (at < 0) continue;
      const exact = folded.length === s.segment.length;
      out.push(exact ? { start: s.index + at, end: s.index + at + t.length } : { start: s.index, end: s.index + s.segment.length });
      break;
    }
  }
  return out;
}

/** A window of `text` around its first match, with the match ranges moved into it. */
export function snippetOf(text: string, terms: readonly string[]): { snippet: string; matches: MatchRange[] } {
  const ranges = matchRanges(text, terms);
  if (text.length <= SNIPPET_CHARS) return { snippet: text, matches: ranges };
  let from = Math.max(0, (ranges[0]?.start ?? 0) - BEFORE);
  // Never split a surrogate pair.
  if (from > 0 && /[\uDC00-\uDFFF]/.test(text[from] ?? '')) from--;
  let to = Math.min(text.length, from + SNIPPET_CHARS);
  if (to < text.length && /[\uDC00-\uDFFF]/.test(text[to] ?? '')) to++;
  const lead = from > 0 ? '…' : '';
  const snippet = lead + text.slice(from, to) + (to < text.length ? '…' : '');
  const shift = lead.length - from;
  const matches = ranges.filter((r) => r.start >= from && r.end <= to).map((r) => ({ start: r.start + shift, end: r.end + shift }));
  return { snippet, matches };
}
