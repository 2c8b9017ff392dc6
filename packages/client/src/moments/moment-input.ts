import {
  encryptAttachment,
  encryptMomentBody,
  MAX_MOMENT_LOCATION_LENGTH,
  MAX_MOMENT_PHOTO_BYTES,
  MAX_MOMENT_PHOTOS,
  MAX_MOMENT_TEXT_LENGTH,
  MAX_MOMENT_THUMBNAIL_BYTES,
  MOMENT_WINDOWS,
  momentPostId,
} from '@parley/crypto';
import type { MomentBodyPhoto, MomentWindow } from '@parley/crypto';
import { toBase64Url } from '@parley/protocol';
import type { BlobDigest } from '@parley/protocol';
import { ClientError } from '../errors.js';
import type { HttpApi } from '../transport/http-api.js';
import type { PostRecord } from './moment-records.js';
import type { MomentAudience, MomentPhotoInput, MomentPostInput } from './moment-types.js';

const PHOTO_MIME = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/gif']);
const THUMB_MIME = new Set(['image/jpeg', 'image/png', 'image/webp']);
// Control characters and bidi overrides have no place in a location line.
// eslint-disable-next-line no-control-regex
const UNSAFE_LINE = /[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]/;

export interface PreparedPost {
  readonly text: string;
  readonly location: string | undefined;
  readonly photos: readonly MomentPhotoInput[];
  readonly audience: MomentAudience;
}

export function checkWindow(w: unknown): asserts w is MomentWindow {
  if (typeof w !== 'string' || !(MOMENT_WINDOWS as readonly string[]).includes(w)) throw new ClientError('bad_request', `a window is one of ${MOMENT_WINDOWS.join(', ')}`);
}

function checkAudience(a: unknown): MomentAudience {
  if (a === undefined) return { kind: 'friends' };
  if (typeof a !== 'object' || a === null) throw new ClientError('bad_request', 'an audience is an object');
  const kind = (a as { kind?: unknown }).kind;
  if (kind === 'friends') return { kind: 'friends' };
  const lists = (a as { lists?: unknown }).lists;
  if ((kind === 'lists' || kind === 'except') && Array.isArray(lists) && lists.length <= 50 && lists.every((l) => typeof l === 'string')) {
    if (kind === 'lists' && lists.length === 0) throw new ClientError('bad_request', 'choose at least one list');
    return { kind, lists: [...new Set(lists as string[])] };
  }
  throw new ClientError('bad_request', 'an audience is all friends, some lists, or all except some lists');
}

/** Everything about a post that can be checked before anything is encrypted or uploaded. */
export function preparePost(input: MomentPostInput): PreparedPost {
  if (typeof input !== 'object' || input === null) throw new ClientError('bad_request', 'a post is an object');
  const text = input.text ?? '';
  if (typeof text !== 'string') throw new ClientError('bad_request', 'text is a string');
  if (text.length > MAX_MOMENT_TEXT_LENGTH) throw new ClientError('too_large', `a post's text is at most ${MAX_MOMENT_TEXT_LENGTH} characters`, { detail: { maxLength: MAX_MOMENT_TEXT_LENGTH } });
  const location = input.location === undefined || input.location === null ? undefined : typeof input.location === 'string' ? input.location.trim() : null;
  if (location === null || (location !== undefined && (location.length > MAX_MOMENT_LOCATION_LENGTH || UNSAFE_LINE.test(location)))) {
    throw new ClientError('bad_request', `a location is one line of at most ${MAX_MOMENT_LOCATION_LENGTH} characters`);
  }
  const photos = input.photos ?? [];
  if (!Array.isArray(photos)) throw new ClientError('bad_request', 'photos is a list');
  if (photos.length > MAX_MOMENT_PHOTOS) throw new ClientError('too_large', `a post has at most ${MAX_MOMENT_PHOTOS} photos`, { detail: { maxPhotos: MAX_MOMENT_PHOTOS } });
  for (const p of photos) checkPhoto(p);
  if (text.trim().length === 0 && photos.length === 0) throw new ClientError('bad_request', 'a post has text or photos');
  return { text, location: location === '' ? undefined : location, photos, audience: checkAudience(input.audience) };
}

function checkPhoto(p: MomentPhotoInput): void {
  if (typeof p !== 'object' || p === null || !(p.bytes instanceof Uint8Array)) throw new ClientError('bad_request', 'a photo has bytes');
  if (p.bytes.length > MAX_MOMENT_PHOTO_BYTES) throw new ClientError('too_large', `a photo is at most ${MAX_MOMENT_PHOTO_BYTES} bytes`, { detail: { maxBytes: MAX_MOMENT_PHOTO_BYTES } });
  if (p.bytes.length === 0) throw new ClientError('bad_request', 'a photo is not empty');
  if (!PHOTO_MIME.has(p.mimeType)) throw new ClientError('bad_request', 'a photo is JPEG, PNG, WebP or GIF');
  for (const side of [p.width, p.height]) if (!Number.isInteger(side) || side < 1 || side > 65_535) throw new ClientError('bad_request', 'a photo has a width and height in pixels');
  if (p.thumbnail !== undefined) {
    if (!(p.thumbnail.data instanceof Uint8Array) || !THUMB_MIME.has(p.thumbnail.mimeType)) throw new ClientError('bad_request', 'a thumbnail is JPEG, PNG or WebP bytes');
    if (p.thumbnail.data.length > MAX_MOMENT_THUMBNAIL_BYTES) throw new ClientError('too_large', `a thumbnail is at most ${MAX_MOMENT_THUMBNAIL_BYTES} bytes`);
  }
}

/** Encrypts and uploads the photos, then the body that names them: what a reference needs, and what the author keeps. */
export async function postContent(
  api: HttpApi,
  post: PreparedPost,
  author: string,
): Promise<{ postId: string; salt: string; body: PostRecord['body']; content: NonNullable<PostRecord['content']>; photos: Array<{ blob: { digest: BlobDigest; size: number; key: Uint8Array; nonce: Uint8Array }; bytes: Uint8Array; mimeType: string }> }> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const postId = await momentPostId(author, salt);
  const photos: MomentBodyPhoto[] = [];
  const kept = [];
  for (const p of post.photos) {
    const encrypted = await encryptAttachment(p.bytes);
    await api.putBlob(encrypted.digest, encrypted.ciphertext);
    photos.push({
      digest: encrypted.digest,
      key: toBase64Url(encrypted.key),
      nonce: toBase64Url(encrypted.nonce),
      size: p.bytes.length,
      mimeType: p.mimeType,
      width: p.width,
      height: p.height,
      ...(p.thumbnail === undefined ? {} : { thumbnail: { mimeType: p.thumbnail.mimeType, data: toBase64Url(p.thumbnail.data) } }),
    });
    kept.push({ blob: { digest: encrypted.digest, size: p.bytes.length, key: encrypted.key, nonce: encrypted.nonce }, bytes: p.bytes, mimeType: p.mimeType });
  }
  const content = { text: post.text, ...(post.location === undefined ? {} : { location: post.location }), photos };
  const body = await encryptMomentBody({ v: 1, postId, ...content });
  await api.putBlob(body.digest, body.ciphertext);
  return { postId, salt: toBase64Url(salt), body: { digest: body.digest, key: toBase64Url(body.key), nonce: toBase64Url(body.nonce), size: body.size }, content, photos: kept };
}
