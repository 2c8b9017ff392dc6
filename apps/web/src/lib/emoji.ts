/** The quick reactions offered first; any other emoji can be typed. */
export const COMMON_EMOJI = ['👍', '❤️', '😂', '😮', '😢', '🙏', '🎉', '🔥'] as const;

// The same rule as the content schema: one emoji sequence (modifiers, joiners,
// variation selectors, flags, keycaps), nothing else. The joiner and selectors
// are listed on purpose (they only ever appear inside a sequence).
// eslint-disable-next-line no-misleading-character-class
const EMOJI = /^(?:[\p{Extended_Pictographic}\p{Regional_Indicator}\p{Emoji_Modifier}#*0-9\u200d\ufe0f\u20e3\u{e0020}-\u{e007f}])+$/u;
const EMOJI_CORE = /[\p{Extended_Pictographic}\p{Regional_Indicator}]/u;
const MAX_EMOJI_LENGTH = 32;

/** The first emoji in what was typed, or null if it holds none (so "ok 👍" picks 👍). */
export function pickEmoji(input: string): string | null {
  const trimmed = input.trim();
  if (trimmed === '') return null;
  if (trimmed.length <= MAX_EMOJI_LENGTH && EMOJI.test(trimmed) && EMOJI_CORE.test(trimmed)) return trimmed;
  const seg = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
  for (const { segment } of seg.segment(trimmed)) {
    if (segment.length <= MAX_EMOJI_LENGTH && EMOJI.test(segment) && EMOJI_CORE.test(segment)) return segment;
  }
  return null;
}
