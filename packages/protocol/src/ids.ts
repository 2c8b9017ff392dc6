import { z } from 'zod';

/**
 * Branded identifiers. A UserId can never be passed where a DeviceId is
 * expected, although both are strings on the wire.
 */
export type UserId = string & { readonly __brand: 'UserId' };
export type DeviceId = string & { readonly __brand: 'DeviceId' };
/** base64url of the MLS group id bytes, exactly as in the MLS framing. */
export type GroupId = string & { readonly __brand: 'GroupId' };
/** Lower-case hex SHA-256 of a blob's (encrypted) bytes. */
export type BlobDigest = string & { readonly __brand: 'BlobDigest' };

/** Server-issued ids: 22 base64url characters (128 random bits). */
const SERVER_ID = /^[A-Za-z0-9_-]{22}$/;

export const UserIdSchema = z.string().regex(SERVER_ID, 'invalid user id').transform((s) => s as UserId);
export const DeviceIdSchema = z.string().regex(SERVER_ID, 'invalid device id').transform((s) => s as DeviceId);
/** MLS group ids are opaque; we accept 1..64 bytes, i.e. up to 86 base64url chars. */
export const GroupIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{2,86}$/, 'invalid group id')
  .transform((s) => s as GroupId);
export const BlobDigestSchema = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'invalid blob digest')
  .transform((s) => s as BlobDigest);

export function isServerId(value: string): boolean {
  return SERVER_ID.test(value);
}
