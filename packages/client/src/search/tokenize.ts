/**
 * Search terms of a text, the same way for what is indexed and what is
 * asked: NFKC, case folded, diacritics folded for Latin, Greek, Cyrillic and
 * Arabic (é → e, أ → ا, harakat dropped; Japanese kana keep their voicing
 * marks: が is not か), split into words with Intl.Segmenter (dictionary
 * segmentation for Chinese and Japanese, which put no spaces between words),
 * plus emoji. A Chinese or Japanese word is indexed with each of its
 * suffixes, so a query for a word the segmenter kept inside a longer one
 * (大学 in 北京大学) still finds it by prefix.
 */

/** Longest term kept (code points); longer words are cut (a prefix query still finds them). */
export const MAX_TERM_CHARS = 24;
/** Terms indexed per message at most (a 64 KiB text has far fewer distinct words in practice). */
export const MAX_TERMS_PER_MESSAGE = 2_000;

const segmenter = new Intl.Segmenter(undefined, { granularity: 'word' });
const MARKS_AFTER_FOLDED_SCRIPTS = /([\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}\p{Script=Arabic}])[\p{Mn}]+/gu;
const TATWEEL = /\u0640/g;
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const EMOJI = /\p{Extended_Pictographic}/u;
const VARIATION_SELECTORS = /[\uFE0E\uFE0F]/g;

/** The folded form of a text (before segmentation). */
export function fold(text: string): string {
  return text.normalize('NFKC').toLowerCase().normalize('NFD').replace(MARKS_AFTER_FOLDED_SCRIPTS, '$1').replace(TATWEEL, '').normalize('NFC');
}

function cut(word: string): string {
  const chars = [...word];
  return chars.length > MAX_TERM_CHARS ? chars.slice(0, MAX_TERM_CHARS).join('') : word;
}

/** The words of a (folded) text, in order, as the segmenter splits them (emoji included). */
export function words(text: string): string[] {
  const out: string[] = [];
  for (const s of segmenter.segment(fold(text))) {
    if (s.isWordLike === true) out.push(cut(s.segment));
    else if (EMOJI.test(s.segment)) out.push(s.segment.replace(VARIATION_SELECTORS, ''));
  }
  return out.filter((w) => w.length > 0);
}

/** The distinct terms to index for a text: its words, and every suffix of a Chinese/Japanese/Korean word. */
export function indexTerms(text: string): Set<string> {
  const terms = new Set<string>();
  for (const w of words(text)) {
    if (terms.size >= MAX_TERMS_PER_MESSAGE) break;
    terms.add(w);
    if (CJK.test(w)) {
      const chars = [...w];
      for (let i = 1; i < chars.length; i++) terms.add(chars.slice(i).join(''));
    }
  }
  return terms;
}

/** The terms of a query: each is matched as a prefix of an indexed term, and all must match. */
export function queryTerms(text: string): string[] {
  return [...new Set(words(text))];
}

/**
 * A term as a store key part: printable ASCII (what every store adapter
 * orders alike), with the prefix property kept — if term A is a prefix of
 * term B, encode(A) is a prefix of encode(B) — so a prefix scan of the
 * store finds every term starting with a query word. [a-z0-9] stay as they
 * are; any other code point is "~" and 4 hex digits (BMP) or "^" and 6.
 */
export function encodeTerm(term: string): string {
  let out = '';
  for (const ch of term) {
    if (/^[a-z0-9]$/.test(ch)) out += ch;
    else {
      const cp = ch.codePointAt(0) as number;
      out += cp <= 0xffff ? `~${cp.toString(16).padStart(4, '0')}` : `^${cp.toString(16).padStart(6, '0')}`;
    }
  }
  return out;
}
