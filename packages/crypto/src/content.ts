import { z } from 'zod';
import { Base64UrlBytes, toBase64Url } from '@parley/protocol';
import { BlobRefSchema, CONTENT_VERSION, ContentIdSchema, contentBase, MAX_ATTACHMENT_SIZE } from './content-base.js';
import { MOMENT_CONTENT_TYPES, MomentCommentContentSchema, MomentCommentDeleteContentSchema, MomentDeleteContentSchema, MomentHelloContentSchema, MomentPostContentSchema, momentWire } from './moments.js';

export { CONTENT_VERSION, ContentIdSchema, MAX_ATTACHMENT_SIZE };

/**
 * What travels inside an MLS application message: a versioned JSON document
 * (UTF-8). MLS guarantees who sent it and that nobody else read it, not that
 * it is well-formed — a buggy or hostile member can encrypt anything — so
 * every decrypted plaintext goes through decodeContent, which returns a typed
 * error and never throws.
 *
 * v1 types (docs/protocol.md, "Message content"):
 * - `text`, `attachment`, `voice`: history entries; each may carry `replyTo`
 *   (the quoted message, by group seq and content id).
 * - `reaction`, `edit`, `delete`: change an earlier message named by
 *   `target` ({ seq, id }: the group seq the server gave it and its content
 *   id, both checked by the receiver). One reaction per person per message
 *   (`emoji: null` removes it); edits and deletes only by the original sender
 *   and within EDIT_WINDOW_MS / DELETE_WINDOW_MS of its sentAt.
 * - `receipt`: cumulative — everything up to `delivered` (and `read`) seq.
 * - `settings`: conversation settings (the disappearing-message timer).
 * - `typing`: only inside ephemeral typing frames, never stored.
 * - `profile_key`: the sender's profile key (profile.ts), for the members of
 *   a conversation the sender accepted; bound to the MLS-authenticated sender,
 *   never shown in the history.
 * - `moment_post`, `moment_delete`, `moment_comment`, `moment_comment_delete`,
 *   `moment_hello`: Moments (moments.ts), in the pair's 1:1 group; never shown
 *   in the chat.
 * Unknown fields are dropped (tolerant reader), so later v1 revisions may add
 * optional fields without breaking older clients.
 */

export const MAX_CONTENT_BYTES = 256 * 1024;
export const MAX_TEXT_LENGTH = 65_536;
export const MAX_FILE_NAME_LENGTH = 255;
export const MAX_THUMBNAIL_BYTES = 64 * 1024;

/** A voice message's limits: refused before upload when over them. */
export const MAX_VOICE_BYTES = 16 * 1024 * 1024;
export const MAX_VOICE_DURATION_MS = 30 * 60 * 1000;
/** Waveform samples (one byte each, 0–255 loudness). */
export const MAX_WAVEFORM_SAMPLES = 256;
/** Edits are accepted up to this long after the original was sent (sender's clock). */
export const EDIT_WINDOW_MS = 24 * 60 * 60 * 1000;
/** Delete for everyone is accepted up to this long after the original was sent (sender's clock). */
export const DELETE_WINDOW_MS = 48 * 60 * 60 * 1000;
/** The disappearing-message timers a conversation can have (null: off). */
export const DISAPPEAR_TIMERS_MS = [5 * 60_000, 60 * 60_000, 24 * 60 * 60_000, 7 * 24 * 60 * 60_000, 28 * 24 * 60 * 60_000] as const;
export const MAX_EMOJI_LENGTH = 32;

export const CONTENT_TYPES = ['text', 'attachment', 'voice', 'reaction', 'edit', 'delete', 'receipt', 'settings', 'typing', 'profile_key', ...MOMENT_CONTENT_TYPES] as const;
export type ContentTypeName = (typeof CONTENT_TYPES)[number];
export const SUPPORTED_CONTENT_TYPES = CONTENT_TYPES;
/** The types that are entries of the history (the others change entries or say something about them). */
export const HISTORY_CONTENT_TYPES = ['text', 'attachment', 'voice', 'settings'] as const satisfies readonly ContentTypeName[];


/** A group seq (the server's gap-free numbering within a conversation). */
const SeqSchema = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

/** An earlier message of the same conversation: its seq and its content id (the receiver checks both). */
export const MessageRefSchema = z.object({ seq: SeqSchema, id: ContentIdSchema });
export type MessageRef = z.output<typeof MessageRefSchema>;

/**
 * One emoji (with its modifiers, joiners and variation selectors, flags and
 * keycaps included): nothing else, no whitespace, no text.
 */
// The class lists joiners, selectors and modifiers one by one on purpose: sequences are checked as a whole below.
// eslint-disable-next-line no-misleading-character-class
const EMOJI = /^(?:[\p{Extended_Pictographic}\p{Regional_Indicator}\p{Emoji_Modifier}#*0-9\u200d\ufe0f\u20e3\u{e0020}-\u{e007f}])+$/u;
// A keycap (#️⃣, 1️⃣) has no pictographic code point of its own: its base is a digit, # or * followed by U+20E3.
const EMOJI_CORE = /[\p{Extended_Pictographic}\p{Regional_Indicator}]|[#*0-9]\ufe0f?\u20e3/u;
/** One user-perceived character: "👍👍" or two flags side by side are two reactions, not one. */
function oneGrapheme(e: string): boolean {
  // Intl.Segmenter is in every runtime Parley supports; without it the character classes above still hold.
  if (typeof Intl === 'undefined' || typeof Intl.Segmenter !== 'function') return true;
  let n = 0;
  for (const _ of new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(e)) if (++n > 1) return false;
  return n === 1;
}
export const EmojiSchema = z
  .string()
  .min(1)
  .max(MAX_EMOJI_LENGTH)
  .refine((e) => EMOJI.test(e) && EMOJI_CORE.test(e) && oneGrapheme(e), 'not an emoji');

const MIME_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;
// Path separators, control characters and bidi overrides (which can disguise "txt.exe" as "exe.txt").
// eslint-disable-next-line no-control-regex
const UNSAFE_FILE_NAME = /[/\\\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]/;

const FileNameSchema = z
  .string()
  .min(1)
  .max(MAX_FILE_NAME_LENGTH)
  .refine((name) => !UNSAFE_FILE_NAME.test(name) && name !== '.' && name !== '..', 'unsafe file name');

const base = contentBase;

export const TextContentSchema = z.object({
  ...base,
  type: z.literal('text'),
  text: z.string().min(1).max(MAX_TEXT_LENGTH),
  replyTo: MessageRefSchema.optional(),
});


export const AttachmentContentSchema = z.object({
  ...base,
  type: z.literal('attachment'),
  blob: BlobRefSchema,
  mimeType: z.string().regex(MIME_TYPE, 'invalid mime type'),
  fileName: FileNameSchema,
  image: z
    .object({
      width: z.number().int().min(1).max(65_535),
      height: z.number().int().min(1).max(65_535),
      thumbnail: z
        .object({
          mimeType: z.enum(['image/jpeg', 'image/png', 'image/webp']),
          data: Base64UrlBytes(1, MAX_THUMBNAIL_BYTES),
        })
        .optional(),
    })
    .optional(),
  caption: z.string().max(MAX_TEXT_LENGTH).optional(),
  replyTo: MessageRefSchema.optional(),
});

const AUDIO_MIME = /^audio\/(ogg|webm|mp4|mpeg|aac|wav)(;\s?codecs=[A-Za-z0-9.,"-]{1,40})?$/;

/** A recorded voice message: an encrypted audio blob with its length and a loudness outline. */
export const VoiceContentSchema = z.object({
  ...base,
  type: z.literal('voice'),
  blob: BlobRefSchema.refine((b) => b.size >= 1 && b.size <= MAX_VOICE_BYTES, 'voice message too large'),
  mimeType: z.string().regex(AUDIO_MIME, 'invalid audio type'),
  durationMs: z.number().int().min(1).max(MAX_VOICE_DURATION_MS),
  /** Loudness samples over the recording, 0–255 each. */
  waveform: Base64UrlBytes(0, MAX_WAVEFORM_SAMPLES),
  replyTo: MessageRefSchema.optional(),
});

/** One person's reaction to a message; a newer one from the same person replaces it, `emoji: null` removes it. */
export const ReactionContentSchema = z.object({ ...base, type: z.literal('reaction'), target: MessageRefSchema, emoji: EmojiSchema.nullable() });

/** The new text of the sender's own text message (the caption, for an attachment). */
export const EditContentSchema = z.object({ ...base, type: z.literal('edit'), target: MessageRefSchema, text: z.string().min(1).max(MAX_TEXT_LENGTH) });

/** Delete for everyone: the sender's own message. */
export const DeleteContentSchema = z.object({ ...base, type: z.literal('delete'), target: MessageRefSchema });

/** Cumulative: this device stored everything up to `delivered`, and (if the user shares read receipts) its user read up to `read`. */
export const ReceiptContentSchema = z
  .object({ ...base, type: z.literal('receipt'), delivered: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), read: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional() })
  .refine((r) => r.read === undefined || r.read <= r.delivered, 'read beyond delivered');

/** Conversation settings, announced in the chat. */
export const SettingsContentSchema = z.object({
  ...base,
  type: z.literal('settings'),
  /** Messages sent from now on disappear this long after they were sent; null: off. */
  disappearAfterMs: z
    .number()
    .int()
    .refine((ms) => (DISAPPEAR_TIMERS_MS as readonly number[]).includes(ms), 'not an allowed timer')
    .nullable(),
});

/** Only in a typing frame (ephemeral, never stored): the sender started or stopped typing. */
export const TypingContentSchema = z.object({ ...base, type: z.literal('typing'), typing: z.boolean() });

/** The sender's profile key: whoever receives it can fetch and read the sender's profile (and only the sender's). */
export const ProfileKeyContentSchema = z.object({ ...base, type: z.literal('profile_key'), key: Base64UrlBytes(32, 32) });

export const MessageContentSchema = z.discriminatedUnion('type', [
  TextContentSchema,
  AttachmentContentSchema,
  VoiceContentSchema,
  ReactionContentSchema,
  EditContentSchema,
  DeleteContentSchema,
  ReceiptContentSchema,
  SettingsContentSchema,
  TypingContentSchema,
  ProfileKeyContentSchema,
  MomentPostContentSchema,
  MomentDeleteContentSchema,
  MomentCommentContentSchema,
  MomentCommentDeleteContentSchema,
  MomentHelloContentSchema,
]);

export type TextContent = z.output<typeof TextContentSchema>;
export type AttachmentContent = z.output<typeof AttachmentContentSchema>;
export type VoiceContent = z.output<typeof VoiceContentSchema>;
export type ReactionContent = z.output<typeof ReactionContentSchema>;
export type EditContent = z.output<typeof EditContentSchema>;
export type DeleteContent = z.output<typeof DeleteContentSchema>;
export type ReceiptContent = z.output<typeof ReceiptContentSchema>;
export type SettingsContent = z.output<typeof SettingsContentSchema>;
export type TypingContent = z.output<typeof TypingContentSchema>;
export type ProfileKeyContent = z.output<typeof ProfileKeyContentSchema>;
export type MessageContent = z.output<typeof MessageContentSchema>;
/** Content that is an entry of the history. */
export type HistoryContent = TextContent | AttachmentContent | VoiceContent | SettingsContent;

export function isHistoryContent(c: MessageContent): c is HistoryContent {
  return (HISTORY_CONTENT_TYPES as readonly string[]).includes(c.type);
}

export type ContentErrorCode = 'too_large' | 'malformed' | 'invalid' | 'unsupported_version' | 'unsupported_type';

export class ContentError extends Error {
  constructor(
    readonly code: ContentErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ContentError';
  }
}

export type ContentDecodeResult = { ok: true; content: MessageContent } | { ok: false; error: ContentError };

/** A fresh content id (16 random bytes, base64url). */
export function newContentId(): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(16)));
}

/** The JSON shape: like MessageContent, with bytes as base64url strings. */
function blobWire(blob: AttachmentContent['blob']): Record<string, unknown> {
  return { digest: blob.digest, key: toBase64Url(blob.key), nonce: toBase64Url(blob.nonce), size: blob.size };
}

function refWire(ref: MessageRef): Record<string, unknown> {
  return { seq: ref.seq, id: ref.id };
}

function toWire(content: MessageContent): Record<string, unknown> {
  const head = { v: content.v, id: content.id, sentAt: content.sentAt, type: content.type };
  const reply = 'replyTo' in content && content.replyTo !== undefined ? { replyTo: refWire(content.replyTo) } : {};
  switch (content.type) {
    case 'text':
      return { ...head, text: content.text, ...reply };
    case 'voice':
      return { ...head, blob: blobWire(content.blob), mimeType: content.mimeType, durationMs: content.durationMs, waveform: toBase64Url(content.waveform), ...reply };
    case 'reaction':
      return { ...head, target: refWire(content.target), emoji: content.emoji };
    case 'edit':
      return { ...head, target: refWire(content.target), text: content.text };
    case 'delete':
      return { ...head, target: refWire(content.target) };
    case 'receipt':
      return { ...head, delivered: content.delivered, ...(content.read === undefined ? {} : { read: content.read }) };
    case 'settings':
      return { ...head, disappearAfterMs: content.disappearAfterMs };
    case 'typing':
      return { ...head, typing: content.typing };
    case 'profile_key':
      return { ...head, key: toBase64Url(content.key) };
    case 'moment_post':
    case 'moment_delete':
    case 'moment_comment':
    case 'moment_comment_delete':
    case 'moment_hello':
      return momentWire(content, head);
    case 'attachment':
      break;
  }
  const wire: Record<string, unknown> = {
    ...head,
    blob: blobWire(content.blob),
    mimeType: content.mimeType,
    fileName: content.fileName,
  };
  if (content.image !== undefined) {
    const image: Record<string, unknown> = { width: content.image.width, height: content.image.height };
    if (content.image.thumbnail !== undefined) {
      image['thumbnail'] = { mimeType: content.image.thumbnail.mimeType, data: toBase64Url(content.image.thumbnail.data) };
    }
    wire['image'] = image;
  }
  if (content.caption !== undefined) wire['caption'] = content.caption;
  return { ...wire, ...reply };
}

/** Describes validation failures by path and code only: the values may be message content. */
function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.code}`)
    .join('; ');
}

/** Encodes content for createApplicationMessage; throws ContentError if it would not decode. */
export function encodeContent(content: MessageContent): Uint8Array {
  const wire = toWire(content);
  const check = MessageContentSchema.safeParse(wire);
  if (!check.success) throw new ContentError('invalid', `content does not match the schema: ${describeIssues(check.error)}`);
  const bytes = new TextEncoder().encode(JSON.stringify(wire));
  if (bytes.length > MAX_CONTENT_BYTES) throw new ContentError('too_large', `content is ${bytes.length} bytes; the limit is ${MAX_CONTENT_BYTES}`);
  return bytes;
}

function fail(code: ContentErrorCode, message: string, cause?: unknown): ContentDecodeResult {
  return { ok: false, error: new ContentError(code, message, cause === undefined ? undefined : { cause }) };
}

/** Decodes a decrypted plaintext. Never throws: any problem comes back as a ContentError. */
export function decodeContent(plaintext: Uint8Array): ContentDecodeResult {
  try {
    if (plaintext.length > MAX_CONTENT_BYTES) return fail('too_large', `content is ${plaintext.length} bytes; the limit is ${MAX_CONTENT_BYTES}`);
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plaintext));
    } catch (err) {
      return fail('malformed', 'content is not UTF-8 JSON', err);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) return fail('malformed', 'content is not a JSON object');
    const record = json as Record<string, unknown>;
    const version = record['v'];
    if (typeof version !== 'number') return fail('invalid', 'content has no version');
    if (version !== CONTENT_VERSION) return fail('unsupported_version', `content version ${version} is not supported`);
    const type = record['type'];
    if (typeof type !== 'string') return fail('invalid', 'content has no type');
    if (!(SUPPORTED_CONTENT_TYPES as readonly string[]).includes(type)) return fail('unsupported_type', 'unknown content type');
    const parsed = MessageContentSchema.safeParse(json);
    if (!parsed.success) return fail('invalid', `content does not match the schema: ${describeIssues(parsed.error)}`);
    return { ok: true, content: parsed.data };
  } catch (err) {
    // Defence in depth: nothing above should throw, but a decoder must not crash its caller.
    return fail('malformed', 'content could not be decoded', err);
  }
}
