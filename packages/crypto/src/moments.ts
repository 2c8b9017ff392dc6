import { z } from 'zod';
import { Base64UrlBytes, BlobDigestSchema, toBase64Url } from '@parley/protocol';
import { decryptAttachment, encryptAttachment } from './attachments.js';
import type { AttachmentSecrets, EncryptedAttachment } from './attachments.js';
import { BlobRefSchema, ContentIdSchema, contentBase } from './content-base.js';

/**
 * Moments (docs/moments.md): what travels for a friends-only post, and the
 * only cryptography it adds on top of MLS and attachment encryption.
 *
 * - A post's body (text, location, its photos' keys and thumbnails) is one
 *   JSON document encrypted as an attachment blob with a fresh key
 *   (encryptMomentBody): the post key. The body names its post id, so a body
 *   cannot be passed off as another post's.
 * - Each friend in the audience gets a `moment_post` reference (the body's
 *   digest, key and nonce) in the pair's own 1:1 MLS group.
 * - A like or comment is sealed under a key derived from the post key (HKDF-
 *   SHA-256, info naming the post) with AES-GCM (sealMomentComment): only
 *   devices that hold the post can read it, whoever else the commenter's
 *   fan-out reaches.
 * - `moment_hello` says "you are (no longer) my friend" and the sender's
 *   visibility window; `moment_delete` / `moment_comment_delete` remove a
 *   post or a comment (only from their author: the receiver checks the MLS
 *   sender).
 *
 * Every decoded document is validated; failures are typed, never thrown past
 * the decoder.
 */

export const MOMENT_CONTENT_TYPES = ['moment_post', 'moment_delete', 'moment_comment', 'moment_comment_delete', 'moment_hello'] as const;

/** How far back friends may look at a user's posts. */
export const MOMENT_WINDOWS = ['3d', '1m', '6m', 'all'] as const;
export type MomentWindow = (typeof MOMENT_WINDOWS)[number];
const DAY_MS = 24 * 60 * 60 * 1000;
/** The window's length in milliseconds (null: no limit). */
export function momentWindowMs(w: MomentWindow): number | null {
  return w === '3d' ? 3 * DAY_MS : w === '1m' ? 30 * DAY_MS : w === '6m' ? 182 * DAY_MS : null;
}

export const MAX_MOMENT_TEXT_LENGTH = 5_000;
export const MAX_MOMENT_LOCATION_LENGTH = 120;
export const MAX_MOMENT_PHOTOS = 9;
/** A photo larger than this is refused before anything is uploaded. */
export const MAX_MOMENT_PHOTO_BYTES = 15 * 1024 * 1024;
export const MAX_MOMENT_THUMBNAIL_BYTES = 48 * 1024;
export const MAX_MOMENT_COMMENT_LENGTH = 1_000;
/** The encrypted body: 9 thumbnails in base64 and the text fit well below this. */
export const MAX_MOMENT_BODY_BYTES = 1024 * 1024;
/** A sealed comment: nonce, AES-GCM tag and a JSON document of at most a comment's text. */
export const MAX_SEALED_COMMENT_BYTES = 8 * 1024;

const TimeSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const WindowSchema = z.enum(MOMENT_WINDOWS);
const PHOTO_MIME = ['image/jpeg', 'image/png', 'image/webp', 'image/gif'] as const;

/** A post reference: where the body is and the key that opens it (the post key). */
export const MomentPostContentSchema = z.object({
  ...contentBase,
  type: z.literal('moment_post'),
  postId: ContentIdSchema,
  /** The post id is momentPostId(author, salt): nobody can reuse another author's post id. */
  salt: Base64UrlBytes(16, 16),
  /** When the author posted (a backfilled post keeps its time; `sentAt` is when this reference went). */
  postedAt: TimeSchema,
  body: BlobRefSchema.refine((b) => b.size >= 1 && b.size <= MAX_MOMENT_BODY_BYTES, 'moment body too large'),
  /** The author's visibility window when this reference went. */
  window: WindowSchema,
});

export const MomentDeleteContentSchema = z.object({ ...contentBase, type: z.literal('moment_delete'), postId: ContentIdSchema });

/** A like or comment, sealed under the post's comment key: only a holder of the post reads it. */
export const MomentCommentContentSchema = z.object({
  ...contentBase,
  type: z.literal('moment_comment'),
  postId: ContentIdSchema,
  sealed: Base64UrlBytes(29, MAX_SEALED_COMMENT_BYTES),
});

export const MomentCommentDeleteContentSchema = z.object({ ...contentBase, type: z.literal('moment_comment_delete'), postId: ContentIdSchema, commentId: ContentIdSchema });

/** "You are my friend" (or no longer) and the sender's visibility window. */
export const MomentHelloContentSchema = z.object({ ...contentBase, type: z.literal('moment_hello'), friend: z.boolean(), window: WindowSchema });

export type MomentPostContent = z.output<typeof MomentPostContentSchema>;
export type MomentDeleteContent = z.output<typeof MomentDeleteContentSchema>;
export type MomentCommentContent = z.output<typeof MomentCommentContentSchema>;
export type MomentCommentDeleteContent = z.output<typeof MomentCommentDeleteContentSchema>;
export type MomentHelloContent = z.output<typeof MomentHelloContentSchema>;
export type MomentContent = MomentPostContent | MomentDeleteContent | MomentCommentContent | MomentCommentDeleteContent | MomentHelloContent;

/** The JSON shape of a moment content document (bytes as base64url), for content.ts's encoder. */
export function momentWire(content: MomentContent, head: Record<string, unknown>): Record<string, unknown> {
  switch (content.type) {
    case 'moment_post':
      return {
        ...head,
        postId: content.postId,
        salt: toBase64Url(content.salt),
        postedAt: content.postedAt,
        body: { digest: content.body.digest, key: toBase64Url(content.body.key), nonce: toBase64Url(content.body.nonce), size: content.body.size },
        window: content.window,
      };
    case 'moment_delete':
      return { ...head, postId: content.postId };
    case 'moment_comment':
      return { ...head, postId: content.postId, sealed: toBase64Url(content.sealed) };
    case 'moment_comment_delete':
      return { ...head, postId: content.postId, commentId: content.commentId };
    case 'moment_hello':
      return { ...head, friend: content.friend, window: content.window };
  }
}

/**
 * A post's id, bound to its author: the first 16 bytes of SHA-256("parley moment id v1" ‖ 0 ‖
 * author user id ‖ 0 ‖ salt), base64url. A friend who saw someone else's post cannot claim its
 * id for a post of their own (to pre-empt it on devices that have not received it yet).
 */
export async function momentPostId(author: string, salt: Uint8Array): Promise<string> {
  if (salt.length !== 16) throw new MomentError('invalid', 'a post id salt is 16 bytes');
  const label = new TextEncoder().encode(`parley moment id v1\0${author}\0`);
  const input = new Uint8Array(label.length + salt.length);
  input.set(label);
  input.set(salt, label.length);
  const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', input));
  return toBase64Url(hash.subarray(0, 16));
}

/* ---------------- the post body ---------------- */

const MomentPhotoSchema = z.object({
  digest: BlobDigestSchema,
  key: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  nonce: z.string().regex(/^[A-Za-z0-9_-]{16}$/),
  size: z.number().int().min(1).max(MAX_MOMENT_PHOTO_BYTES),
  mimeType: z.enum(PHOTO_MIME),
  width: z.number().int().min(1).max(65_535),
  height: z.number().int().min(1).max(65_535),
  thumbnail: z.object({ mimeType: z.enum(['image/jpeg', 'image/png', 'image/webp']), data: z.string().max(Math.ceil((MAX_MOMENT_THUMBNAIL_BYTES * 4) / 3) + 4) }).optional(),
});

export const MomentBodySchema = z
  .object({
    v: z.literal(1),
    postId: ContentIdSchema,
    text: z.string().max(MAX_MOMENT_TEXT_LENGTH),
    location: z.string().min(1).max(MAX_MOMENT_LOCATION_LENGTH).optional(),
    photos: z.array(MomentPhotoSchema).max(MAX_MOMENT_PHOTOS),
  })
  .refine((b) => b.text.trim().length > 0 || b.photos.length > 0, 'a post has text or photos');

/** One photo of a post as the body lists it (key and nonce in base64url, as on the wire). */
export type MomentBodyPhoto = z.output<typeof MomentPhotoSchema>;
export type MomentBody = z.output<typeof MomentBodySchema>;

export type MomentErrorCode = 'invalid' | 'too_large' | 'decrypt_failed' | 'wrong_post';

export class MomentError extends Error {
  constructor(
    readonly code: MomentErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MomentError';
  }
}

function issues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.code}`)
    .join('; ');
}

/** Encrypts a post body with a fresh post key (an attachment blob); throws MomentError when the body does not validate. */
export async function encryptMomentBody(body: MomentBody): Promise<EncryptedAttachment & { size: number }> {
  const check = MomentBodySchema.safeParse(body);
  if (!check.success) throw new MomentError('invalid', `moment body does not match the schema: ${issues(check.error)}`);
  const bytes = new TextEncoder().encode(JSON.stringify(check.data));
  if (bytes.length > MAX_MOMENT_BODY_BYTES) throw new MomentError('too_large', `moment body is ${bytes.length} bytes; the limit is ${MAX_MOMENT_BODY_BYTES}`);
  return { ...(await encryptAttachment(bytes)), size: bytes.length };
}

/** Decrypts and validates a post body; it must name `postId`. Throws MomentError (never anything else). */
export async function decryptMomentBody(ciphertext: Uint8Array, secrets: AttachmentSecrets, postId: string): Promise<MomentBody> {
  let bytes: Uint8Array;
  try {
    bytes = await decryptAttachment(ciphertext, secrets);
  } catch (err) {
    throw new MomentError('decrypt_failed', 'moment body does not decrypt', { cause: err });
  }
  if (bytes.length > MAX_MOMENT_BODY_BYTES) throw new MomentError('too_large', 'moment body is too large');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new MomentError('invalid', 'moment body is not UTF-8 JSON', { cause: err });
  }
  const parsed = MomentBodySchema.safeParse(json);
  if (!parsed.success) throw new MomentError('invalid', `moment body does not match the schema: ${issues(parsed.error)}`);
  if (parsed.data.postId !== postId) throw new MomentError('wrong_post', 'moment body belongs to another post');
  return parsed.data;
}

/* ---------------- likes and comments ---------------- */

const CommentSchema = z
  .object({
    v: z.literal(1),
    commentId: ContentIdSchema,
    /** A like is a comment with no text. */
    like: z.boolean(),
    text: z.string().min(1).max(MAX_MOMENT_COMMENT_LENGTH).optional(),
    /** The comment this one answers. */
    replyTo: ContentIdSchema.optional(),
    sentAt: TimeSchema,
  })
  .refine((c) => (c.like ? c.text === undefined && c.replyTo === undefined : c.text !== undefined && c.text.trim().length > 0), 'a like has no text; a comment has text');
export type MomentComment = z.output<typeof CommentSchema>;

function buffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes as Uint8Array<ArrayBuffer>;
}

const COMMENT_NONCE_BYTES = 12;

/** The comment key of a post: HKDF-SHA-256 of the post key, with the post id in the info (WebCrypto). */
async function commentKey(postKey: Uint8Array, postId: string): Promise<Awaited<ReturnType<typeof crypto.subtle.deriveKey>>> {
  if (postKey.length !== 32) throw new MomentError('invalid', 'a post key is 32 bytes');
  const ikm = await crypto.subtle.importKey('raw', buffer(postKey), 'HKDF', false, ['deriveKey']);
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(32), info: new TextEncoder().encode(`parley moment comment v1 ${postId}`) },
    ikm,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

/** Seals a like or comment for the holders of the post (nonce ‖ AES-GCM ciphertext, the post id as associated data). */
export async function sealMomentComment(postKey: Uint8Array, postId: string, comment: MomentComment): Promise<Uint8Array> {
  const check = CommentSchema.safeParse(comment);
  if (!check.success) throw new MomentError('invalid', `comment does not match the schema: ${issues(check.error)}`);
  const key = await commentKey(postKey, postId);
  const nonce = crypto.getRandomValues(new Uint8Array(COMMENT_NONCE_BYTES));
  const plain = new TextEncoder().encode(JSON.stringify(check.data));
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: new TextEncoder().encode(postId) }, key, plain));
  const out = new Uint8Array(nonce.length + sealed.length);
  out.set(nonce);
  out.set(sealed, nonce.length);
  if (out.length > MAX_SEALED_COMMENT_BYTES) throw new MomentError('too_large', 'comment is too large');
  return out;
}

/** Opens a sealed like or comment with the post key; throws MomentError (`decrypt_failed`: not a holder of this post, or altered). */
export async function openMomentComment(postKey: Uint8Array, postId: string, sealed: Uint8Array): Promise<MomentComment> {
  if (sealed.length <= COMMENT_NONCE_BYTES + 16 || sealed.length > MAX_SEALED_COMMENT_BYTES) throw new MomentError('invalid', 'sealed comment has a wrong size');
  const key = await commentKey(postKey, postId);
  let plain: Uint8Array;
  try {
    plain = new Uint8Array(
      await crypto.subtle.decrypt({ name: 'AES-GCM', iv: buffer(sealed.subarray(0, COMMENT_NONCE_BYTES)), additionalData: new TextEncoder().encode(postId) }, key, buffer(sealed.subarray(COMMENT_NONCE_BYTES))),
    );
  } catch (err) {
    throw new MomentError('decrypt_failed', 'comment does not decrypt with this post key', { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plain));
  } catch (err) {
    throw new MomentError('invalid', 'comment is not UTF-8 JSON', { cause: err });
  }
  const parsed = CommentSchema.safeParse(json);
  if (!parsed.success) throw new MomentError('invalid', `comment does not match the schema: ${issues(parsed.error)}`);
  return parsed.data;
}
