import { remove as removeConfusables } from 'confusables';

/**
 * Usernames are compared after NFKC normalisation and case folding, and two
 * names that look alike (their "skeletons" match) cannot both exist. A name
 * must also use a single script (plus digits and . _ -), so "pаypal" with a
 * Cyrillic "а" is refused outright rather than merely colliding.
 */

export const USERNAME_MIN = 3;
export const USERNAME_MAX = 32;

export type UsernameCheck =
  | { ok: true; normalized: string; skeleton: string }
  | { ok: false; reason: string };

/** Scripts that may appear together in one name (Japanese and Korean mix Han with their own). */
const SCRIPT_GROUPS: ReadonlyArray<{ name: string; re: RegExp }> = [
  { name: 'Latin', re: /\p{Script=Latin}/u },
  { name: 'Cyrillic', re: /\p{Script=Cyrillic}/u },
  { name: 'Greek', re: /\p{Script=Greek}/u },
  { name: 'Arabic', re: /\p{Script=Arabic}/u },
  { name: 'Hebrew', re: /\p{Script=Hebrew}/u },
  { name: 'Devanagari', re: /\p{Script=Devanagari}/u },
  { name: 'Thai', re: /\p{Script=Thai}/u },
  { name: 'Armenian', re: /\p{Script=Armenian}/u },
  { name: 'Georgian', re: /\p{Script=Georgian}/u },
  { name: 'Bengali', re: /\p{Script=Bengali}/u },
  { name: 'Tamil', re: /\p{Script=Tamil}/u },
  { name: 'Ethiopic', re: /\p{Script=Ethiopic}/u },
  { name: 'CJK', re: /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u30FC]/u },
];

const ALLOWED = /^[\p{L}\p{M}\p{Nd}._-]+$/u;
/**
 * Characters that render as nothing (or as blank space) yet make a name
 * distinct: default-ignorable code points (zero-width spaces and joiners,
 * variation selectors, soft hyphen, ...) and the Hangul fillers, which are
 * letters to Unicode (so ALLOWED would pass them) but invisible on screen.
 * NFKC maps U+3164 and U+FFA0 to U+1160, so the test runs before and after it.
 */
const INVISIBLE = /[\p{Default_Ignorable_Code_Point}\u115F\u1160\u3164\uFFA0]/u;
const DIGIT_NOT_ASCII = /[^\P{Nd}0-9]/u;

/** Extra folds on top of the Unicode confusables map, for look-alikes within Latin. */
const LATIN_FOLDS: ReadonlyArray<[RegExp, string]> = [
  // Punctuation first, so "r.n" folds like "rn".
  [/[_.-]+/g, ''],
  [/rn/g, 'm'],
  [/vv/g, 'w'],
  [/[1i|]/g, 'l'],
  [/0/g, 'o'],
];

export function usernameSkeleton(normalized: string): string {
  let s = removeConfusables(normalized).toLowerCase();
  for (const [re, to] of LATIN_FOLDS) s = s.replace(re, to);
  return s;
}

export function checkUsername(input: string): UsernameCheck {
  if (typeof input !== 'string') return { ok: false, reason: 'username must be a string' };
  if (INVISIBLE.test(input)) return { ok: false, reason: 'username contains invisible characters' };
  const normalized = input.normalize('NFKC').toLowerCase().normalize('NFKC');
  if (INVISIBLE.test(normalized)) return { ok: false, reason: 'username contains invisible characters' };
  const length = [...normalized].length;
  if (length < USERNAME_MIN || length > USERNAME_MAX) {
    return { ok: false, reason: `username must be ${USERNAME_MIN}-${USERNAME_MAX} characters` };
  }
  if (!ALLOWED.test(normalized)) {
    return { ok: false, reason: 'username may contain letters, digits, ".", "_" and "-" only' };
  }
  if (DIGIT_NOT_ASCII.test(normalized)) return { ok: false, reason: 'digits must be 0-9' };
  if (!/[\p{L}]/u.test(normalized)) return { ok: false, reason: 'username needs at least one letter' };
  if (/^[._-]|[._-]$/.test(normalized)) return { ok: false, reason: 'username cannot start or end with punctuation' };
  const scripts = new Set<string>();
  for (const ch of normalized) {
    if (!/\p{L}/u.test(ch)) continue;
    const group = SCRIPT_GROUPS.find((g) => g.re.test(ch));
    scripts.add(group ? group.name : 'Other');
  }
  if (scripts.size > 1) return { ok: false, reason: 'username mixes scripts' };
  return { ok: true, normalized, skeleton: usernameSkeleton(normalized) };
}
