import { z } from 'zod';
import { Base64UrlBytes, BlobDigestSchema, toBase64Url } from '@parley/protocol';
import type { BlobDigest, UserId } from '@parley/protocol';

/**
 * Encrypted profiles (display name, about line, picture), after Signal's
 * profile key. Each user has a PROFILE KEY: 32 random bytes that travel only
 * inside MLS (to the user's own devices and into the conversations the user
 * accepted). From it and the user's id, HKDF-SHA-256 derives
 *
 * - the profile VERSION (32 bytes, base64url): the name the server stores the
 *   ciphertext under. Only a holder of the key can compute it, so only a
 *   holder can ask for the profile; a new key (rotation) gives a new version
 *   and the old one is deleted;
 * - the AES-256-GCM key the profile JSON is encrypted with.
 *
 * Ciphertext: format byte (1) ‖ nonce (12, random) ‖ AES-GCM ciphertext with
 * its 16-byte tag. The plaintext is the JSON padded with zero bytes to
 * PROFILE_PADDED_BYTES (JSON never contains a zero byte), so every profile
 * has the same size whatever its name and about line say. The associated
 * data names the format, the user and the version, so a ciphertext cannot be
 * presented as another user's profile or under another version.
 *
 * Nothing here is hand-rolled: WebCrypto does HKDF and AES-GCM. Decryption
 * validates the JSON strictly (zod): a profile that decrypts can still be
 * malformed, and it is refused as a whole (ProfileError), never half-used.
 */

export const PROFILE_KEY_BYTES = 32;
export const PROFILE_VERSION_BYTES = 32;
/** Display names: at most this many characters (code points), after trimming. */
export const MAX_DISPLAY_NAME_LENGTH = 64;
/** About line: at most this many characters (code points), after trimming. */
export const MAX_ABOUT_LENGTH = 280;
/** A profile picture's bytes (the app downsizes before; over this it is refused before any upload). */
export const MAX_PICTURE_BYTES = 512 * 1024;
export const PROFILE_PICTURE_TYPES = ['image/jpeg', 'image/png', 'image/webp'] as const;
export type ProfilePictureType = (typeof PROFILE_PICTURE_TYPES)[number];

const FORMAT = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/**
 * Every profile's JSON is padded to this size. The longest valid profile
 * (64 + 280 characters that JSON escapes to six bytes each, the picture
 * reference, the field names) is under 2,500 bytes.
 */
export const PROFILE_PADDED_BYTES = 4096;
/** Size of every encrypted profile. */
export const PROFILE_CIPHERTEXT_BYTES = 1 + NONCE_BYTES + PROFILE_PADDED_BYTES + TAG_BYTES;

export type ProfileErrorCode = 'invalid_parameters' | 'too_large' | 'malformed' | 'decrypt_failed' | 'invalid';

export class ProfileError extends Error {
  constructor(
    readonly code: ProfileErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ProfileError';
  }
}

/* ---------------- text rules ---------------- */

// Control characters (C0, DEL, C1), line and paragraph separators, bidi embeddings, overrides and isolates
// (which can make a name read as something else), and lone surrogates.
// eslint-disable-next-line no-control-regex
const UNSAFE_TEXT = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]|\p{Cs}/u;

/**
 * The canonical form of a display name or about line: NFC, every run of
 * white space one space, no space at either end. An empty result means "none".
 */
export function normalizeProfileText(text: string): string {
  return text.normalize('NFC').replace(/\s+/gu, ' ').trim();
}

/** Characters as people count them here: code points. */
function length(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/**
 * Why `text` (already normalized) cannot be a display name or about line of
 * at most `max` characters, or undefined when it can.
 */
export function profileTextProblem(text: string, max: number): 'empty' | 'too_long' | 'unsafe' | undefined {
  if (text.length === 0) return 'empty';
  if (UNSAFE_TEXT.test(text)) return 'unsafe';
  if (length(text) > max) return 'too_long';
  return undefined;
}

/** A stored field: canonical (the sender normalized it), non-empty, safe, within its limit. */
const ProfileText = (max: number) =>
  z
    .string()
    .max(max * 2)
    .refine((s) => normalizeProfileText(s) === s && profileTextProblem(s, max) === undefined, 'not a valid profile text');

const PictureSchema = z.strictObject({
  digest: BlobDigestSchema,
  key: Base64UrlBytes(32, 32),
  nonce: Base64UrlBytes(12, 12),
  /** Plaintext size in bytes. */
  size: z.number().int().min(1).max(MAX_PICTURE_BYTES),
  mimeType: z.enum(PROFILE_PICTURE_TYPES),
});

const ProfileDataSchema = z.strictObject({
  v: z.literal(1),
  displayName: ProfileText(MAX_DISPLAY_NAME_LENGTH).nullable(),
  about: ProfileText(MAX_ABOUT_LENGTH).nullable(),
  picture: PictureSchema.nullable(),
  /** When the user last changed it (the setting device's clock, ms). */
  updatedAt: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
});

/** The encrypted blob of a profile picture: where it is and how to open it (decryptAttachment). */
export interface ProfilePicture {
  readonly digest: BlobDigest;
  readonly key: Uint8Array;
  readonly nonce: Uint8Array;
  readonly size: number;
  readonly mimeType: ProfilePictureType;
}

/** What an encrypted profile holds. */
export interface ProfileData {
  readonly displayName: string | null;
  readonly about: string | null;
  readonly picture: ProfilePicture | null;
  readonly updatedAt: number;
}

/* ---------------- keys ---------------- */

const encoder = new TextEncoder();

/** WebCrypto's DOM typings want ArrayBuffer-backed views; ours always are. */
function buffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes as Uint8Array<ArrayBuffer>;
}

type WebCryptoKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

function hkdfParams(purpose: string, userId: UserId) {
  // The profile key is uniformly random: no salt is needed (RFC 5869 §3.1). The user id is in the info, so one
  // key gives each user id its own version and encryption key.
  return { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: encoder.encode(`parley profile ${purpose} v1\n${userId}`) };
}

async function hkdfBase(profileKey: Uint8Array): Promise<WebCryptoKey> {
  if (!(profileKey instanceof Uint8Array) || profileKey.length !== PROFILE_KEY_BYTES) throw new ProfileError('invalid_parameters', 'a profile key is 32 bytes');
  return crypto.subtle.importKey('raw', buffer(profileKey), 'HKDF', false, ['deriveBits', 'deriveKey']);
}

/** A fresh profile key. */
export function generateProfileKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(PROFILE_KEY_BYTES));
}

/** The version `userId`'s profile is stored under while `profileKey` is current (base64url, 43 characters). */
export async function profileVersion(profileKey: Uint8Array, userId: UserId): Promise<string> {
  const bits = await crypto.subtle.deriveBits(hkdfParams('version', userId), await hkdfBase(profileKey), PROFILE_VERSION_BYTES * 8);
  return toBase64Url(new Uint8Array(bits));
}

async function aesKey(profileKey: Uint8Array, userId: UserId, usage: 'encrypt' | 'decrypt'): Promise<WebCryptoKey> {
  return crypto.subtle.deriveKey(hkdfParams('encryption', userId), await hkdfBase(profileKey), { name: 'AES-GCM', length: 256 }, false, [usage]);
}

function associatedData(userId: UserId, version: string): Uint8Array {
  return encoder.encode(`parley profile v1\n${FORMAT}\n${userId}\n${version}`);
}

/* ---------------- encrypt / decrypt ---------------- */

function toWire(profile: ProfileData): Record<string, unknown> {
  const p = profile.picture;
  return {
    v: 1,
    displayName: profile.displayName,
    about: profile.about,
    picture: p === null ? null : { digest: p.digest, key: toBase64Url(p.key), nonce: toBase64Url(p.nonce), size: p.size, mimeType: p.mimeType },
    updatedAt: profile.updatedAt,
  };
}

function describeIssues(error: z.ZodError): string {
  // Paths and codes only: the values are the profile's content.
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.code}`)
    .join('; ');
}

/**
 * Encrypts `profile` for `userId` under `profileKey`. Throws ProfileError:
 * `invalid_parameters` (a bad key, or a profile that would not validate:
 * texts must be normalized and within their limits).
 */
export async function encryptProfile(profileKey: Uint8Array, userId: UserId, profile: ProfileData): Promise<{ version: string; ciphertext: Uint8Array }> {
  const wire = toWire(profile);
  const check = ProfileDataSchema.safeParse(wire);
  if (!check.success) throw new ProfileError('invalid_parameters', `the profile does not match its schema: ${describeIssues(check.error)}`);
  const json = encoder.encode(JSON.stringify(wire));
  // Unreachable with the limits above; checked so that padding can never cut a profile short.
  if (json.length > PROFILE_PADDED_BYTES) throw new ProfileError('too_large', 'the profile is too large');
  const padded = new Uint8Array(PROFILE_PADDED_BYTES);
  padded.set(json, 0);
  const version = await profileVersion(profileKey, userId);
  const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt({ name: 'AES-GCM', iv: buffer(nonce), additionalData: buffer(associatedData(userId, version)) }, await aesKey(profileKey, userId, 'encrypt'), buffer(padded)),
  );
  const ciphertext = new Uint8Array(1 + NONCE_BYTES + sealed.length);
  ciphertext[0] = FORMAT;
  ciphertext.set(nonce, 1);
  ciphertext.set(sealed, 1 + NONCE_BYTES);
  return { version, ciphertext };
}

/**
 * Decrypts and validates `userId`'s profile. Throws ProfileError:
 * `invalid_parameters` (a bad key), `malformed` (not this format or size),
 * `decrypt_failed` (tampered with, another user's, or another key's),
 * `invalid` (it decrypts but is not a valid profile).
 */
export async function decryptProfile(profileKey: Uint8Array, userId: UserId, ciphertext: Uint8Array): Promise<ProfileData> {
  if (!(ciphertext instanceof Uint8Array) || ciphertext.length !== PROFILE_CIPHERTEXT_BYTES || ciphertext[0] !== FORMAT) {
    throw new ProfileError('malformed', 'not an encrypted profile of a known format');
  }
  const version = await profileVersion(profileKey, userId);
  let padded: Uint8Array;
  try {
    padded = new Uint8Array(
      await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: buffer(ciphertext.slice(1, 1 + NONCE_BYTES)), additionalData: buffer(associatedData(userId, version)) },
        await aesKey(profileKey, userId, 'decrypt'),
        buffer(ciphertext.slice(1 + NONCE_BYTES)),
      ),
    );
  } catch (err) {
    throw new ProfileError('decrypt_failed', 'the profile failed authentication', { cause: err });
  }
  let end = padded.length;
  while (end > 0 && padded[end - 1] === 0) end--;
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(padded.subarray(0, end)));
  } catch (err) {
    throw new ProfileError('invalid', 'the profile is not UTF-8 JSON', { cause: err });
  }
  const parsed = ProfileDataSchema.safeParse(json);
  if (!parsed.success) throw new ProfileError('invalid', `the profile does not match its schema: ${describeIssues(parsed.error)}`);
  const { displayName, about, picture, updatedAt } = parsed.data;
  return { displayName, about, picture, updatedAt };
}
