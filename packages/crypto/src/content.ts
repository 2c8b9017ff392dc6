import { z } from 'zod';
import { Base64UrlBytes, BlobDigestSchema, toBase64Url } from '@parley/protocol';

/**
 * What travels inside an MLS application message: a versioned JSON document
 * (UTF-8). MLS guarantees who sent it and that nobody else read it, not that
 * it is well-formed — a buggy or hostile member can encrypt anything — so
 * every decrypted plaintext goes through decodeContent, which returns a typed
 * error and never throws.
 *
 * v1 defines `text` and `attachment`. `reaction`, `edit`, `delete` and
 * `receipt` are reserved: recognised, and rejected as unsupported until they
 * are specified. Unknown fields are dropped (tolerant reader), so later v1
 * revisions may add optional fields without breaking older clients.
 */

export const CONTENT_VERSION = 1;
export const MAX_CONTENT_BYTES = 256 * 1024;
export const MAX_TEXT_LENGTH = 65_536;
export const MAX_FILE_NAME_LENGTH = 255;
export const MAX_THUMBNAIL_BYTES = 64 * 1024;
export const MAX_ATTACHMENT_SIZE = 2 ** 40;

export const CONTENT_TYPES = ['text', 'attachment', 'reaction', 'edit', 'delete', 'receipt'] as const;
export type ContentTypeName = (typeof CONTENT_TYPES)[number];
export const SUPPORTED_CONTENT_TYPES = ['text', 'attachment'] as const satisfies readonly ContentTypeName[];

/** 128 random bits, base64url: a message's own id, for later edits, reactions and receipts. */
const ContentIdSchema = z.string().regex(/^[A-Za-z0-9_-]{22}$/, 'invalid content id');

const MIME_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;
// Path separators, control characters and bidi overrides (which can disguise "txt.exe" as "exe.txt").
// eslint-disable-next-line no-control-regex
const UNSAFE_FILE_NAME = /[/\\\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]/;

const FileNameSchema = z
  .string()
  .min(1)
  .max(MAX_FILE_NAME_LENGTH)
  .refine((name) => !UNSAFE_FILE_NAME.test(name) && name !== '.' && name !== '..', 'unsafe file name');

const base = {
  v: z.literal(CONTENT_VERSION),
  id: ContentIdSchema,
  /** Sender's clock, milliseconds since the Unix epoch. Inside the ciphertext, so the server never sees it. */
  sentAt: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
};

export const TextContentSchema = z.object({
  ...base,
  type: z.literal('text'),
  text: z.string().min(1).max(MAX_TEXT_LENGTH),
});

export const AttachmentContentSchema = z.object({
  ...base,
  type: z.literal('attachment'),
  blob: z.object({
    digest: BlobDigestSchema,
    key: Base64UrlBytes(32, 32),
    nonce: Base64UrlBytes(12, 12),
    /** Plaintext size in bytes. */
    size: z.number().int().min(0).max(MAX_ATTACHMENT_SIZE),
  }),
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
});

export const MessageContentSchema = z.discriminatedUnion('type', [TextContentSchema, AttachmentContentSchema]);

export type TextContent = z.output<typeof TextContentSchema>;
export type AttachmentContent = z.output<typeof AttachmentContentSchema>;
export type MessageContent = z.output<typeof MessageContentSchema>;

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
function toWire(content: MessageContent): Record<string, unknown> {
  if (content.type === 'text') return { v: content.v, id: content.id, sentAt: content.sentAt, type: content.type, text: content.text };
  const wire: Record<string, unknown> = {
    v: content.v,
    id: content.id,
    sentAt: content.sentAt,
    type: content.type,
    blob: { digest: content.blob.digest, key: toBase64Url(content.blob.key), nonce: toBase64Url(content.blob.nonce), size: content.blob.size },
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
  return wire;
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
    if (!(SUPPORTED_CONTENT_TYPES as readonly string[]).includes(type)) {
      const known = (CONTENT_TYPES as readonly string[]).includes(type);
      return fail('unsupported_type', known ? `content type ${type} is reserved and not yet supported` : 'unknown content type');
    }
    const parsed = MessageContentSchema.safeParse(json);
    if (!parsed.success) return fail('invalid', `content does not match the schema: ${describeIssues(parsed.error)}`);
    return { ok: true, content: parsed.data };
  } catch (err) {
    // Defence in depth: nothing above should throw, but a decoder must not crash its caller.
    return fail('malformed', 'content could not be decoded', err);
  }
}
