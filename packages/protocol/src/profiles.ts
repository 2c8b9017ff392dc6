import { z } from 'zod';
import { fromBase64Url } from './bytes.js';
import { BlobDigestSchema, UserIdSchema } from './ids.js';
import { Base64UrlBytes } from './schemas.js';

/**
 * Encrypted profiles on the server (PUT /v1/profile, GET /v1/profiles/:version,
 * DELETE /v1/profile). The server stores each user's one profile as opaque
 * ciphertext under an opaque "version": 32 bytes the user's devices derive
 * from their profile key (see packages/crypto), so only holders of the key can
 * name it. It checks sizes and forms only; it never sees a name, an about line
 * or a picture key.
 */

/** Bytes of a profile version (HKDF output). */
export const PROFILE_VERSION_BYTES = 32;
/** Largest profile ciphertext the server stores (decoded bytes). */
export const MAX_PROFILE_CIPHERTEXT_BYTES = 8 * 1024;
/** Smallest: an AEAD ciphertext carries at least its 16-byte tag. */
export const MIN_PROFILE_CIPHERTEXT_BYTES = 16;
/**
 * PUT /v1/profile bodies are read up to this many bytes (more: payload_too_large
 * before parsing): a maximal ciphertext in base64url plus the other fields.
 */
export const MAX_PROFILE_BODY_BYTES = 12 * 1024;

/** A profile version as it travels: canonical unpadded base64url of exactly 32 bytes (43 characters). */
export type ProfileVersion = string & { readonly __brand: 'ProfileVersion' };

export const ProfileVersionSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{43}$/, 'invalid profile version')
  // Canonical only (no stray trailing bits): one version has exactly one spelling, so it names one row.
  .refine((s) => fromBase64Url(s)?.length === PROFILE_VERSION_BYTES, 'invalid profile version')
  .transform((s) => s as ProfileVersion);

/** Profile ciphertext: base64url of 16-8,192 bytes; decodes to the bytes. */
export const ProfileCiphertextSchema = Base64UrlBytes(MIN_PROFILE_CIPHERTEXT_BYTES, MAX_PROFILE_CIPHERTEXT_BYTES);

/**
 * PUT /v1/profile: replaces the caller's user's one profile (its old version
 * stops resolving at once). `pictureBlob` is the digest of an already uploaded
 * (encrypted) blob the server keeps while the profile refers to it, or null.
 */
export const PutProfileRequestSchema = z.object({
  version: ProfileVersionSchema,
  ciphertext: ProfileCiphertextSchema,
  pictureBlob: BlobDigestSchema.nullable(),
});
export type PutProfileRequest = z.input<typeof PutProfileRequestSchema>;

/**
 * GET /v1/profiles/:version (ciphertext decodes to bytes on parsing). `userId`
 * names the account that uploaded it: a reader checks it is the user whose key
 * it holds, so an account that learned an old key cannot plant a profile under
 * that key's version once its owner rotated away from it (the version is free
 * then) and have it shown as the owner's.
 */
export const ProfileResponseSchema = z.object({
  userId: UserIdSchema,
  ciphertext: ProfileCiphertextSchema,
  pictureBlob: BlobDigestSchema.nullable(),
});
export type ProfileResponse = z.output<typeof ProfileResponseSchema>;
