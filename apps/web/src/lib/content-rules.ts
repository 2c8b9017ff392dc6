/**
 * The rules of message content the app checks before it sends: the content
 * schema's limits and what counts as one emoji (the app does not import
 * @parley/crypto; e2e/web-units.test.ts checks these stay equal). No imports,
 * so the check runs in Node.
 */
/** Edits are accepted up to 24 h after the original was sent, deletes for everyone up to 48 h. */
export const EDIT_WINDOW_MS = 24 * 60 * 60 * 1000;
export const DELETE_WINDOW_MS = 48 * 60 * 60 * 1000;
/** A voice message: at most 30 minutes, a waveform of at most 256 one-byte samples. */
export const MAX_VOICE_DURATION_MS = 30 * 60 * 1000;
export const MAX_WAVEFORM_SAMPLES = 256;
export const MAX_EMOJI_LENGTH = 32;

/** The quick reactions offered first; any other emoji can be typed. */
export const COMMON_EMOJI = ['👍', '❤️', '😂', '😮', '😢', '🙏', '🎉', '🔥'] as const;

// The same rule as the content schema: one emoji (modifiers, joiners,
// variation selectors, flags, keycaps), nothing else. The joiner and selectors
// are listed on purpose (sequences are checked as a whole).
// eslint-disable-next-line no-misleading-character-class
const EMOJI = /^(?:[\p{Extended_Pictographic}\p{Regional_Indicator}\p{Emoji_Modifier}#*0-9\u200d\ufe0f\u20e3\u{e0020}-\u{e007f}])+$/u;
// A keycap (1️⃣) has no pictographic code point: a digit, # or * and U+20E3.
const EMOJI_CORE = /[\p{Extended_Pictographic}\p{Regional_Indicator}]|[#*0-9]\ufe0f?\u20e3/u;

/** The first emoji in what was typed, or null if it holds none ("ok 👍" picks 👍; "🎉🎉" picks one 🎉). */
export function pickEmoji(input: string): string | null {
  for (const { segment } of new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(input.trim())) {
    if (segment.length <= MAX_EMOJI_LENGTH && EMOJI.test(segment) && EMOJI_CORE.test(segment)) return segment;
  }
  return null;
}
