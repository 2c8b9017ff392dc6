/**
 * Search terms of a text, the same way for what is indexed and what is
 * asked: NFKC, case folded, diacritics folded for Latin, Greek, Cyrillic and
 * Arabic (é → e, أ → ا, harakat dropped; Japanese kana keep their voicing
 * marks: が is not か), split into words with Intl.Segmenter (word
 * granularity: words of every script, emoji, and where a run of Chinese,
 * Japanese or Korean characters starts and ends), CJK runs into two-character
 * pieces (see indexTerms).
 */

/** Longest term kept (code points); longer words are cut (a prefix query still finds them). */
export const MAX_TERM_CHARS = 24;
/** Terms indexed per message at most (a 64 KiB text has far fewer distinct words in practice). */
export const MAX_TERMS_PER_MESSAGE = 2_000;

const segmenter = new Intl.Segmenter(undefined, { granularity: 'word' });
const MARKS_AFTER_FOLDED_SCRIPTS = /([\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}\p{Script=Arabic}])[\p{Mn}]+/gu;
const TATWEEL = /\u0640/g;
const CJK_ONLY = /^[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u30fc]+$/u;
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

/** A word of a text, or a run of Chinese/Japanese/Korean characters with no break between them (`cjk`). */
export interface Word {
  readonly text: string;
  readonly cjk: boolean;
}

/** The words of a text after folding, in order, as the segmenter splits them (emoji included; adjacent CJK words joined into one run). */
export function words(text: string): Word[] {
  const out: Word[] = [];
  let end = -1;
  for (const s of segmenter.segment(fold(text))) {
    const cjk = s.isWordLike === true && CJK_ONLY.test(s.segment);
    const last = out.at(-1);
    if (cjk && last?.cjk === true && end === s.index) out[out.length - 1] = { text: last.text + s.segment, cjk: true };
    else if (s.isWordLike === true) out.push({ text: cut(s.segment), cjk });
    else if (EMOJI.test(s.segment)) out.push({ text: s.segment.replace(VARIATION_SELECTORS, ''), cjk: false });
    end = s.index + s.segment.length;
  }
  return out.filter((w) => w.text.length > 0);
}

/** The two-character pieces of a CJK run (the run itself when it is one character). */
function bigrams(run: string): string[] {
  const chars = [...run];
  if (chars.length < 2) return chars;
  return chars.slice(1).map((c, i) => (chars[i] as string) + c);
}

/**
 * The distinct terms to index for a text: its words, and for a run of
 * Chinese/Japanese/Korean characters every two-character piece of it plus
 * its last character — so a word anywhere in the run is found, wherever the
 * segmenter put the word boundaries (车站 inside 火车站), and a single
 * character by prefix.
 */
export function indexTerms(text: string): Set<string> {
  const terms = new Set<string>();
  for (const w of words(text)) {
    if (terms.size >= MAX_TERMS_PER_MESSAGE) break;
    if (!w.cjk) terms.add(w.text);
    else {
      for (const b of bigrams(w.text)) terms.add(b);
      terms.add([...w.text].at(-1) as string);
    }
  }
  return terms;
}

/** The terms of a query: each is matched as a prefix of an indexed term, and all must match (a CJK run: all its two-character pieces). */
export function queryTerms(text: string): string[] {
  return [...new Set(words(text).flatMap((w) => (w.cjk ? bigrams(w.text) : [w.text])))];
}

/** Whether a term is Chinese/Japanese/Korean (matched anywhere in a run, not at a word start). */
export function isCjk(term: string): boolean {
  return CJK_ONLY.test(term);
}

const DIGITS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const LEADS = 'ABCDEFGHIJKLMNOP';

function base64(n: number, width: number): string {
  let out = '';
  for (let i = 0; i < width; i++) {
    out = (DIGITS[n & 63] as string) + out;
    n >>= 6;
  }
  return out;
}

/**
 * A term as a store key part: printable ASCII (what every store adapter
 * orders alike) without "/", with the prefix property kept — if term A is a
 * prefix of term B, encode(A) is a prefix of encode(B) — so a prefix scan of
 * the store finds every term starting with a query word. Each character is
 * one self-delimiting unit: [a-z0-9] as they are; any other character of the
 * Basic Multilingual Plane an upper-case lead A–P (its top 4 bits) and 2
 * base-64 digits; any other "^" and 4 base-64 digits (3 and 5 characters:
 * keys are most of the index).
 */
export function encodeTerm(term: string): string {
  let out = '';
  for (const ch of term) {
    if (/^[a-z0-9]$/.test(ch)) out += ch;
    else {
      const cp = ch.codePointAt(0) as number;
      out += cp <= 0xffff ? (LEADS[cp >> 12] as string) + base64(cp & 0xfff, 2) : `^${base64(cp, 4)}`;
    }
  }
  return out;
}
