import { z } from 'zod';
import { MAX_ABOUT_LENGTH, MAX_DISPLAY_NAME_LENGTH, MAX_PICTURE_BYTES, normalizeProfileText, PROFILE_PICTURE_TYPES, profileTextProblem } from '@parley/crypto';
import type { ProfileData, ProfilePicture } from '@parley/crypto';
import { BlobDigestSchema, fromBase64Url, GroupIdSchema, toBase64Url, UserIdSchema } from '@parley/protocol';
import type { BlobDigest, GroupId, UserId } from '@parley/protocol';
import type { Store } from '../store/store.js';
import type { StoreBatch } from '../store/records.js';

/**
 * What the profiles feature keeps on the device, in the `meta` table under
 * `profile/` (every record versioned and validated when read back; a corrupt
 * record reads as absent, so the profile is fetched again):
 *
 * - `profile/own-key`: this user's profile key, with when it was made (the
 *   newest wins between the user's devices).
 * - `profile/key/<userId>`: the profile keys other users sent, newest first
 *   (a few are kept: a key that arrives late, in another conversation, must
 *   not hide the current one).
 * - `profile/cache/<userId>`: the decrypted profile (this user's too), the
 *   version it came from and when it was fetched.
 * - `profile/picture/<userId>`: the decrypted picture bytes.
 * - `profile/shared/<conversationId>`: which key version this device last
 *   sent into the conversation, for which member users.
 */

const PREFIX = 'profile/';
const OWN_KEY = `${PREFIX}own-key`;
const KEY_PREFIX = `${PREFIX}key/`;
const CACHE_PREFIX = `${PREFIX}cache/`;
const PICTURE_PREFIX = `${PREFIX}picture/`;
const SHARED_PREFIX = `${PREFIX}shared/`;
/** Keys kept per other user. */
export const MAX_KEYS_PER_USER = 4;

const KeyBytes = z.string().transform((s, ctx) => {
  const bytes = fromBase64Url(s);
  if (bytes?.length !== 32) {
    ctx.addIssue({ code: 'custom', message: 'a profile key is 32 bytes' });
    return z.NEVER;
  }
  return bytes;
});
const Time = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

const OwnKeySchema = z.object({ v: z.literal(1), key: KeyBytes, createdAt: Time });
export interface OwnKeyRecord {
  readonly key: Uint8Array;
  readonly createdAt: number;
}

const UserKeysSchema = z.object({ v: z.literal(1), userId: UserIdSchema, keys: z.array(z.object({ key: KeyBytes, receivedAt: Time })).min(1).max(MAX_KEYS_PER_USER) });
export interface UserKeysRecord {
  readonly userId: UserId;
  /** Newest (or last found current) first. */
  readonly keys: ReadonlyArray<{ readonly key: Uint8Array; readonly receivedAt: number }>;
}

const Text = (max: number) => z.string().refine((s) => normalizeProfileText(s) === s && profileTextProblem(s, max) === undefined);
const PictureRefSchema = z.object({
  digest: BlobDigestSchema,
  key: KeyBytes,
  nonce: z.string().transform((s, ctx) => {
    const bytes = fromBase64Url(s);
    if (bytes?.length !== 12) {
      ctx.addIssue({ code: 'custom', message: 'a nonce is 12 bytes' });
      return z.NEVER;
    }
    return bytes;
  }),
  size: z.number().int().min(1).max(MAX_PICTURE_BYTES),
  mimeType: z.enum(PROFILE_PICTURE_TYPES),
});
const CacheSchema = z.object({
  v: z.literal(1),
  userId: UserIdSchema,
  version: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  displayName: Text(MAX_DISPLAY_NAME_LENGTH).nullable(),
  about: Text(MAX_ABOUT_LENGTH).nullable(),
  picture: PictureRefSchema.nullable(),
  updatedAt: Time,
  fetchedAt: Time,
});
export interface CachedProfile extends ProfileData {
  readonly userId: UserId;
  /** The version it was stored under on the server. */
  readonly version: string;
  /** When this device last fetched (or, for its own, uploaded) it. */
  readonly fetchedAt: number;
}

const PictureBytesSchema = z.object({ v: z.literal(1), digest: BlobDigestSchema, data: z.string() });

const SharedSchema = z.object({ v: z.literal(1), conversationId: GroupIdSchema, version: z.string().min(1).max(64), members: z.string().min(1).max(128) });
export interface SharedRecord {
  readonly conversationId: GroupId;
  /** The version of the key sent (not the key). */
  readonly version: string;
  /** A digest of the sorted member user ids it went to. */
  readonly members: string;
}

function parse<T>(schema: z.ZodType<T>, text: string | undefined): T | undefined {
  if (text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const r = schema.safeParse(json);
  return r.success ? r.data : undefined;
}

/** Reads a meta record as the batch will leave it (a put or delete earlier in the batch wins). */
async function read(store: Store, key: string, batch?: StoreBatch): Promise<string | undefined> {
  const w = batch?.peek('meta', key);
  if (w !== undefined) return w.type === 'put' ? w.value : undefined;
  return store.get('meta', key);
}

function pictureWire(p: ProfilePicture): Record<string, unknown> {
  return { digest: p.digest, key: toBase64Url(p.key), nonce: toBase64Url(p.nonce), size: p.size, mimeType: p.mimeType };
}

/** Typed access to the profile records. */
export class ProfileRecords {
  constructor(private readonly store: Store) {}

  async ownKey(batch?: StoreBatch): Promise<OwnKeyRecord | undefined> {
    const r = parse(OwnKeySchema, await read(this.store, OWN_KEY, batch));
    return r === undefined ? undefined : { key: r.key, createdAt: r.createdAt };
  }

  putOwnKey(batch: StoreBatch, r: OwnKeyRecord): void {
    batch.putText('meta', OWN_KEY, JSON.stringify({ v: 1, key: toBase64Url(r.key), createdAt: r.createdAt }));
  }

  async userKeys(userId: UserId, batch?: StoreBatch): Promise<UserKeysRecord | undefined> {
    const r = parse(UserKeysSchema, await read(this.store, KEY_PREFIX + userId, batch));
    return r === undefined || r.userId !== userId ? undefined : { userId, keys: r.keys };
  }

  putUserKeys(batch: StoreBatch, r: UserKeysRecord): void {
    const keys = r.keys.slice(0, MAX_KEYS_PER_USER).map((k) => ({ key: toBase64Url(k.key), receivedAt: k.receivedAt }));
    batch.putText('meta', KEY_PREFIX + r.userId, JSON.stringify({ v: 1, userId: r.userId, keys }));
  }

  /** Every other user whose key this device holds. */
  async usersWithKeys(): Promise<UserId[]> {
    const out: UserId[] = [];
    for (const row of await this.store.list('meta', { prefix: KEY_PREFIX })) {
      const r = parse(UserKeysSchema, row.value);
      if (r !== undefined && row.key === KEY_PREFIX + r.userId) out.push(r.userId);
    }
    return out;
  }

  async cached(userId: UserId, batch?: StoreBatch): Promise<CachedProfile | undefined> {
    const r = parse(CacheSchema, await read(this.store, CACHE_PREFIX + userId, batch));
    if (r === undefined || r.userId !== userId) return undefined;
    return { userId, version: r.version, displayName: r.displayName, about: r.about, picture: r.picture, updatedAt: r.updatedAt, fetchedAt: r.fetchedAt };
  }

  putCached(batch: StoreBatch, p: CachedProfile): void {
    batch.putText(
      'meta',
      CACHE_PREFIX + p.userId,
      JSON.stringify({
        v: 1,
        userId: p.userId,
        version: p.version,
        displayName: p.displayName,
        about: p.about,
        picture: p.picture === null ? null : pictureWire(p.picture),
        updatedAt: p.updatedAt,
        fetchedAt: p.fetchedAt,
      }),
    );
  }

  /** Forgets a user's profile and picture (no longer readable). */
  dropCached(batch: StoreBatch, userId: UserId): void {
    batch.deleteAll([
      { table: 'meta', key: CACHE_PREFIX + userId },
      { table: 'meta', key: PICTURE_PREFIX + userId },
    ]);
  }

  /** The kept picture bytes, if they are those of `digest`. */
  async picture(userId: UserId, digest: BlobDigest): Promise<Uint8Array | undefined> {
    const r = parse(PictureBytesSchema, await this.store.get('meta', PICTURE_PREFIX + userId));
    if (r === undefined || r.digest !== digest) return undefined;
    return fromBase64Url(r.data);
  }

  putPicture(batch: StoreBatch, userId: UserId, digest: BlobDigest, bytes: Uint8Array): void {
    batch.putText('meta', PICTURE_PREFIX + userId, JSON.stringify({ v: 1, digest, data: toBase64Url(bytes) }));
  }

  dropPicture(batch: StoreBatch, userId: UserId): void {
    batch.deleteAll([{ table: 'meta', key: PICTURE_PREFIX + userId }]);
  }

  async shared(conversationId: GroupId, batch?: StoreBatch): Promise<SharedRecord | undefined> {
    const r = parse(SharedSchema, await read(this.store, SHARED_PREFIX + conversationId, batch));
    return r === undefined || r.conversationId !== conversationId ? undefined : { conversationId, version: r.version, members: r.members };
  }

  putShared(batch: StoreBatch, r: SharedRecord): void {
    batch.putText('meta', SHARED_PREFIX + r.conversationId, JSON.stringify({ v: 1, conversationId: r.conversationId, version: r.version, members: r.members }));
  }
}
