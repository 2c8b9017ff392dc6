/**
 * Compact numbers in store values. Values are strings that every store
 * adapter keeps as they are (SQLite TEXT, IndexedDB strings), so a number is
 * written as printable ASCII: a variable-length integer whose last character
 * is one of 64 "terminal" digits ('!'..'`') and whose leading characters are
 * base-30 "continuation" digits ('a'..'~'). 0–63 take one character,
 * up to 1,919 two, up to 57,599 three. Lists of increasing numbers (document
 * numbers) are written as gaps, so a common word costs about one character
 * per message it occurs in.
 */

const FIRST = 0x21;
const TERMINALS = 64;
const CONTINUATIONS = 30;
const DIGITS = TERMINALS + CONTINUATIONS;
/** The largest lead that still makes a safe integer. */
const MAX_REST = Math.floor(Number.MAX_SAFE_INTEGER / TERMINALS);

/** Appends `n` (a non-negative safe integer) to `out`. */
export function writeUint(out: string, n: number): string {
  let rest = Math.floor(n / TERMINALS);
  let lead = '';
  while (rest > 0) {
    lead = String.fromCharCode(FIRST + TERMINALS + (rest % CONTINUATIONS)) + lead;
    rest = Math.floor(rest / CONTINUATIONS);
  }
  return out + lead + String.fromCharCode(FIRST + (n % TERMINALS));
}

/** A signed integer as an unsigned one (0, -1, 1, -2, … → 0, 1, 2, 3, …). */
export function writeInt(out: string, n: number): string {
  return writeUint(out, n < 0 ? -2 * n - 1 : 2 * n);
}

export function unzigzag(n: number): number {
  return n % 2 === 1 ? -(n + 1) / 2 : n / 2;
}

/**
 * Every number in `text`, in order; undefined if `text` is not such a list
 * (a character outside the digits, a number cut short, one too large).
 */
export function readUints(text: string): number[] | undefined {
  const out: number[] = [];
  let rest = 0;
  for (let i = 0; i < text.length; i++) {
    const d = text.charCodeAt(i) - FIRST;
    if (d < 0 || d >= DIGITS) return undefined;
    if (d >= TERMINALS) {
      rest = rest * CONTINUATIONS + (d - TERMINALS);
      if (rest > MAX_REST) return undefined;
    } else {
      out.push(rest * TERMINALS + d);
      rest = 0;
    }
  }
  return rest === 0 && (text.length === 0 || text.charCodeAt(text.length - 1) - FIRST < TERMINALS) ? out : undefined;
}

/** A strictly increasing list of numbers ≥ base: the first as its distance from base, then each gap minus one. */
export function encodeAscending(docs: readonly number[], base: number): string {
  let out = '';
  let prev = base - 1;
  for (const d of docs) {
    out = writeUint(out, d - prev - 1);
    prev = d;
  }
  return out;
}

/** The inverse of encodeAscending; undefined if `text` is not such a list. */
export function decodeAscending(text: string, base: number): number[] | undefined {
  const gaps = readUints(text);
  if (gaps === undefined) return undefined;
  let prev = base - 1;
  return gaps.map((g) => (prev += g + 1));
}
