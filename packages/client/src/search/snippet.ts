import { fold, isCjk } from './tokenize.js';

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
 * with a term; a Chinese/Japanese/Korean term wherever it occurs (narrowed
 * to the term when folding kept the text's length, else the whole word).
 */
export function matchRanges(text: string, terms: readonly string[]): MatchRange[] {
  const out: MatchRange[] = [];
  const cjk = terms.filter(isCjk);
  const other = terms.filter((t) => !isCjk(t));
  for (const s of segmenter.segment(text)) {
    const folded = fold(s.segment).replace(/[\uFE0E\uFE0F]/g, '');
    if (other.some((t) => folded.startsWith(t))) out.push({ start: s.index, end: s.index + s.segment.length });
  }
  const folded = fold(text);
  for (const t of cjk) {
    if (folded.length !== text.length) continue;
    for (let at = folded.indexOf(t); at >= 0; at = folded.indexOf(t, at + 1)) out.push({ start: at, end: at + t.length });
  }
  // Sorted, overlaps merged (a query's CJK pieces overlap: 北京, 京大, 大学).
  const merged: MatchRange[] = [];
  for (const r of out.sort((a, b) => a.start - b.start)) {
    const last = merged.at(-1);
    if (last !== undefined && r.start <= last.end) merged[merged.length - 1] = { start: last.start, end: Math.max(last.end, r.end) };
    else merged.push(r);
  }
  return merged;
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
