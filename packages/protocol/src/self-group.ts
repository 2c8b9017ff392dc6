import { fromBase64Url, toBase64Url } from './bytes.js';
import { UserIdSchema, type GroupId, type UserId } from './ids.js';

/**
 * Each user's "self" group: an MLS group of that user's own devices only,
 * which carries what only those devices may read (the account key that
 * encrypts device names; later contacts). Its id is derived from the user id,
 * so that two devices of the user racing to create it ask for the same id and
 * the server's `group_exists` decides the race; and because the id names the
 * user, the server refuses to create one for anyone else (`forbidden`), so a
 * stranger cannot take a user's self-group id first.
 *
 * The id's bytes are the ASCII text `parley-self-v1:<userId>` (37 bytes).
 */

const SELF_GROUP_PREFIX = 'parley-self-v1:';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The group id of `userId`'s self group, as the MLS group id bytes. */
export function selfGroupIdBytes(userId: UserId): Uint8Array {
  return encoder.encode(SELF_GROUP_PREFIX + userId);
}

/** The group id of `userId`'s self group (base64url of selfGroupIdBytes). */
export function selfGroupId(userId: UserId): GroupId {
  return toBase64Url(selfGroupIdBytes(userId)) as GroupId;
}

/**
 * Whose self group `groupId` is: undefined for an ordinary id. An id that
 * starts like a self-group id but names no valid user is reserved too (it is
 * returned as `null`: nobody may create it).
 */
export function selfGroupOwner(groupId: GroupId): UserId | null | undefined {
  const bytes = fromBase64Url(groupId);
  if (bytes === undefined) return undefined;
  const prefix = encoder.encode(SELF_GROUP_PREFIX);
  if (bytes.length < prefix.length || !prefix.every((b, i) => bytes[i] === b)) return undefined;
  const owner = UserIdSchema.safeParse(decoder.decode(bytes.subarray(prefix.length)));
  return owner.success && selfGroupId(owner.data) === groupId ? owner.data : null;
}
