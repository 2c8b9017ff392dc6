import { z } from 'zod';
import { MOMENT_WINDOWS, MomentBodySchema } from '@parley/crypto';
import { BlobDigestSchema, UserIdSchema } from '@parley/protocol';
import type { UserId } from '@parley/protocol';
import { parseRecord } from '../store/records.js';
import type { ClientRepository, StoreBatch } from '../store/records.js';
import type { StoreEntry } from '../store/store.js';

/**
 * Where Moments live on the device: the `meta` table, under `moments/`.
 *
 * - `moments/post/<postId>`: a post (own or a friend's) with its reference
 *   (the body blob and the post key) and, once fetched, its body.
 * - `moments/time/<postedAt>/<postId>` and `moments/by/<author>/<postedAt>/<postId>`:
 *   the timeline and each person's page, newest last (read in reverse).
 * - `moments/comment/<postId>/<sentAt>/<commentId>` and `moments/like/<postId>/<userId>`.
 * - `moments/friend/<userId>`: what the other side said (friend or not, window)
 *   and what this user last said to them.
 * - `moments/lists`, `moments/settings`, `moments/notice/<at>/<id>`, `moments/seen`.
 * - `moments/held/<postId>/<commentId>`: a comment that came before its post.
 * - `moments/out/<id>`: references, comments and deletes still to send.
 * - `moments/loading/<postId>`: posts whose body is still to be fetched.
 *
 * Every record is validated when read (StoreError 'corrupt_record' otherwise).
 */

const V = 1;
const P = 'moments/';
export const POST_PREFIX = `${P}post/`;
export const TIME_PREFIX = `${P}time/`;
export const BY_PREFIX = `${P}by/`;
export const COMMENT_PREFIX = `${P}comment/`;
export const LIKE_PREFIX = `${P}like/`;
export const FRIEND_PREFIX = `${P}friend/`;
export const NOTICE_PREFIX = `${P}notice/`;
export const HELD_PREFIX = `${P}held/`;
export const OUT_PREFIX = `${P}out/`;
/** Posts whose body is still to fetch (a small index: post records carry thumbnails and are not scanned). */
export const LOADING_PREFIX = `${P}loading/`;
const LISTS_KEY = `${P}lists`;
const SETTINGS_KEY = `${P}settings`;
const SEEN_KEY = `${P}seen`;

/** A time as a fixed-width key part, so keys sort by time. */
export function timeKey(ms: number): string {
  return String(Math.max(0, Math.floor(ms))).padStart(16, '0');
}

const Time = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const Id = z.string().regex(/^[A-Za-z0-9_-]{22}$/);
const B64 = z.string().regex(/^[A-Za-z0-9_-]*$/);
const Window = z.enum(MOMENT_WINDOWS);
const AudienceSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('friends') }),
  z.object({ kind: z.literal('lists'), lists: z.array(z.string()).max(50) }),
  z.object({ kind: z.literal('except'), lists: z.array(z.string()).max(50) }),
]);

const PostRecordSchema = z.object({
  v: z.literal(V),
  postId: Id,
  /** The post id is momentPostId(author, salt) (@parley/crypto). */
  salt: B64,
  author: UserIdSchema,
  authorName: z.string().nullable(),
  postedAt: Time,
  window: Window,
  body: z.object({ digest: BlobDigestSchema, key: B64, nonce: B64, size: z.number().int().min(1) }),
  state: z.enum(['loading', 'ready', 'failed']),
  attempts: z.number().int().min(0),
  content: z.object({ text: z.string(), location: z.string().optional(), photos: MomentBodySchema.shape.photos }).nullable(),
  /** Own posts: the audience chosen (on the device that posted) and the friends it went to. */
  audience: AudienceSchema.nullable(),
  sentTo: z.array(UserIdSchema),
  receivedAt: Time,
});
export type PostRecord = Omit<z.output<typeof PostRecordSchema>, 'v'>;

const CommentRecordSchema = z.object({
  v: z.literal(V),
  postId: Id,
  commentId: Id,
  author: UserIdSchema,
  authorName: z.string().nullable(),
  text: z.string(),
  replyTo: Id.nullable(),
  sentAt: Time,
  /** The users it went to (own comments: for a later delete). */
  sentTo: z.array(UserIdSchema),
});
export type CommentRecord = Omit<z.output<typeof CommentRecordSchema>, 'v'>;

const LikeRecordSchema = z.object({ v: z.literal(V), postId: Id, commentId: Id, author: UserIdSchema, authorName: z.string().nullable(), sentAt: Time, sentTo: z.array(UserIdSchema) });
export type LikeRecord = Omit<z.output<typeof LikeRecordSchema>, 'v'>;

const FriendRecordSchema = z.object({
  v: z.literal(V),
  userId: UserIdSchema,
  username: z.string().nullable(),
  /** The other side's last `moment_hello`: do they count this user as a friend, and their window. */
  theySay: z.boolean(),
  window: Window,
  /** When they sent that hello (their clock): of two devices' knowledge of them, the later hello wins. */
  heardAt: Time.nullable(),
  /** What this user (any of its devices) last said to them. */
  iSaid: z.boolean().nullable(),
  /** Own posts were offered to them once friendship began. */
  backfilled: z.boolean(),
});
export type FriendRecord = Omit<z.output<typeof FriendRecordSchema>, 'v'>;
export const MomentFriendSchema = FriendRecordSchema.omit({ v: true });

const ListSchema = z.object({ id: Id, name: z.string().min(1).max(40), members: z.array(UserIdSchema).max(5_000), updatedAt: Time });
const ListsRecordSchema = z.object({ v: z.literal(V), lists: z.array(ListSchema).max(50), updatedAt: Time });
export type ListsRecord = Omit<z.output<typeof ListsRecordSchema>, 'v'>;
export { ListSchema as MomentListSchema };

const SettingsSchema = z.object({ v: z.literal(V), window: Window, updatedAt: Time });
export type SettingsRecord = Omit<z.output<typeof SettingsSchema>, 'v'>;

const NoticeSchema = z.object({ v: z.literal(V), id: Id, kind: z.enum(['like', 'comment', 'reply']), postId: Id, from: UserIdSchema, fromName: z.string().nullable(), text: z.string().nullable(), at: Time });
export type NoticeRecord = Omit<z.output<typeof NoticeSchema>, 'v'>;

const HeldSchema = z.object({ v: z.literal(V), postId: Id, commentId: Id, from: UserIdSchema, fromName: z.string().nullable(), sealed: B64, receivedAt: Time });
export type HeldRecord = Omit<z.output<typeof HeldSchema>, 'v'>;

/** Plaintexts still to send (encoded content), to whom, with the blobs each send names. */
const OutSchema = z.object({
  v: z.literal(V),
  id: z.string(),
  plaintext: B64,
  blobs: z.array(BlobDigestSchema),
  to: z.array(UserIdSchema),
  /** Opens a quiet pair group where there is none (posts, comments, hello); a goodbye or a delete needs none. */
  open: z.boolean(),
  /** The recipients whose offline devices this may wake (a like or comment for the post's author, a reply for the comment's); to the rest it is silent. */
  wake: z.array(UserIdSchema),
  createdAt: Time,
});
export type OutRecord = Omit<z.output<typeof OutSchema>, 'v'>;

function parse<T extends { v: number }>(schema: z.ZodType<T>, key: string, text: string): Omit<T, 'v'> {
  const { v: _v, ...rest } = parseRecord(schema, 'meta', key, text);
  return rest;
}

/** A post, comment or like record as another device of this user passed it on (history archive): its schema and its key must hold. */
export function parseArchived(key: string, text: string): { kind: 'post'; record: PostRecord } | { kind: 'comment'; record: CommentRecord } | { kind: 'like'; record: LikeRecord } | undefined {
  try {
    if (key.startsWith(POST_PREFIX)) {
      const record = parse(PostRecordSchema, key, text);
      return postKey(record.postId) === key ? { kind: 'post', record } : undefined;
    }
    if (key.startsWith(COMMENT_PREFIX)) {
      const record = parse(CommentRecordSchema, key, text);
      return commentKey(record) === key ? { kind: 'comment', record } : undefined;
    }
    if (key.startsWith(LIKE_PREFIX)) {
      const record = parse(LikeRecordSchema, key, text);
      return likeKey(record.postId, record.author) === key ? { kind: 'like', record } : undefined;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

function put(batch: StoreBatch, key: string, value: object): void {
  batch.putText('meta', key, JSON.stringify({ v: V, ...value }));
}

export const postKey = (postId: string): string => POST_PREFIX + postId;
export const timeIndexKey = (p: Pick<PostRecord, 'postedAt' | 'postId'>): string => `${TIME_PREFIX}${timeKey(p.postedAt)}/${p.postId}`;
export const byIndexKey = (p: Pick<PostRecord, 'author' | 'postedAt' | 'postId'>): string => `${BY_PREFIX}${p.author}/${timeKey(p.postedAt)}/${p.postId}`;
export const commentKey = (c: Pick<CommentRecord, 'postId' | 'sentAt' | 'commentId'>): string => `${COMMENT_PREFIX}${c.postId}/${timeKey(c.sentAt)}/${c.commentId}`;
export const likeKey = (postId: string, userId: UserId): string => `${LIKE_PREFIX}${postId}/${userId}`;
export const noticeKey = (n: Pick<NoticeRecord, 'at' | 'id'>): string => `${NOTICE_PREFIX}${timeKey(n.at)}/${n.id}`;
export const heldKey = (postId: string, commentId: string): string => `${HELD_PREFIX}${postId}/${commentId}`;

/**
 * Typed access to the Moments records. Reads take an optional batch as an
 * overlay: a run of incoming messages stored in one batch sees what an
 * earlier message of the run wrote.
 */
export class MomentRecords {
  constructor(private readonly repo: ClientRepository) {}

  private async text(key: string, batch?: StoreBatch): Promise<string | undefined> {
    const w = batch?.peek('meta', key);
    if (w !== undefined) return w.type === 'put' ? w.value : undefined;
    return this.repo.store.get('meta', key);
  }

  /** Rows under a prefix, with the batch's writes laid over them (in key order). */
  async rows(prefix: string, batch?: StoreBatch, options: { reverse?: boolean; before?: string; limit?: number } = {}): Promise<StoreEntry[]> {
    const rows = await this.repo.store.list('meta', { prefix, ...options });
    if (batch === undefined) return rows;
    const merged = new Map(rows.map((r) => [r.key, r.value]));
    for (const w of batch.writes) {
      if (w.table !== 'meta' || !w.key.startsWith(prefix)) continue;
      if (w.type === 'put') merged.set(w.key, w.value);
      else merged.delete(w.key);
    }
    const keys = [...merged.keys()].sort();
    return keys.map((key) => ({ key, value: merged.get(key) as string }));
  }

  async post(postId: string, batch?: StoreBatch): Promise<PostRecord | undefined> {
    const key = postKey(postId);
    const t = await this.text(key, batch);
    return t === undefined ? undefined : parse(PostRecordSchema, key, t);
  }

  putPost(batch: StoreBatch, p: PostRecord): void {
    put(batch, postKey(p.postId), p);
    batch.putText('meta', timeIndexKey(p), p.author);
    batch.putText('meta', byIndexKey(p), '');
    if (p.state === 'loading') batch.putText('meta', LOADING_PREFIX + p.postId, '');
    else batch.deleteAll([{ table: 'meta', key: LOADING_PREFIX + p.postId }]);
  }

  /** A post record as stored (for the history archive). */
  postText(postId: string): Promise<string | undefined> {
    return this.repo.store.get('meta', postKey(postId));
  }

  /** Post ids whose body is still to fetch. */
  async loading(): Promise<string[]> {
    return (await this.rows(LOADING_PREFIX)).map((r) => r.key.slice(LOADING_PREFIX.length));
  }

  /** Post ids in timeline order, newest first, before the index key `before`. */
  async timelinePage(prefix: string, before: string | null, limit: number): Promise<StoreEntry[]> {
    return this.repo.store.list('meta', { prefix, reverse: true, limit, ...(before === null ? {} : { before }) });
  }

  async comments(postId: string, batch?: StoreBatch): Promise<CommentRecord[]> {
    return (await this.rows(`${COMMENT_PREFIX}${postId}/`, batch)).map((r) => parse(CommentRecordSchema, r.key, r.value));
  }

  putComment(batch: StoreBatch, c: CommentRecord): void {
    put(batch, commentKey(c), c);
  }

  async likes(postId: string, batch?: StoreBatch): Promise<LikeRecord[]> {
    return (await this.rows(`${LIKE_PREFIX}${postId}/`, batch)).map((r) => parse(LikeRecordSchema, r.key, r.value));
  }

  putLike(batch: StoreBatch, l: LikeRecord): void {
    put(batch, likeKey(l.postId, l.author), l);
  }

  async friend(userId: UserId, batch?: StoreBatch): Promise<FriendRecord | undefined> {
    const key = FRIEND_PREFIX + userId;
    const t = await this.text(key, batch);
    return t === undefined ? undefined : parse(FriendRecordSchema, key, t);
  }

  async friends(): Promise<FriendRecord[]> {
    return (await this.rows(FRIEND_PREFIX)).map((r) => parse(FriendRecordSchema, r.key, r.value));
  }

  putFriend(batch: StoreBatch, f: FriendRecord): void {
    put(batch, FRIEND_PREFIX + f.userId, f);
  }

  async lists(): Promise<ListsRecord> {
    const t = await this.text(LISTS_KEY);
    return t === undefined ? { lists: [], updatedAt: 0 } : parse(ListsRecordSchema, LISTS_KEY, t);
  }

  putLists(batch: StoreBatch, l: ListsRecord): void {
    put(batch, LISTS_KEY, l);
  }

  async settings(batch?: StoreBatch): Promise<SettingsRecord> {
    const t = await this.text(SETTINGS_KEY, batch);
    return t === undefined ? { window: 'all', updatedAt: 0 } : parse(SettingsSchema, SETTINGS_KEY, t);
  }

  putSettings(batch: StoreBatch, s: SettingsRecord): void {
    put(batch, SETTINGS_KEY, s);
  }

  async notices(limit: number): Promise<NoticeRecord[]> {
    return (await this.repo.store.list('meta', { prefix: NOTICE_PREFIX, reverse: true, limit })).map((r) => parse(NoticeSchema, r.key, r.value));
  }

  putNotice(batch: StoreBatch, n: NoticeRecord): void {
    put(batch, noticeKey(n), n);
  }

  async seenAt(): Promise<number> {
    const t = await this.text(SEEN_KEY);
    if (t === undefined) return 0;
    return parse(z.object({ v: z.literal(V), at: Time }), SEEN_KEY, t).at;
  }

  putSeen(batch: StoreBatch, at: number): void {
    put(batch, SEEN_KEY, { at });
  }

  async held(postId: string, batch?: StoreBatch): Promise<HeldRecord[]> {
    return (await this.rows(`${HELD_PREFIX}${postId}/`, batch)).map((r) => parse(HeldSchema, r.key, r.value));
  }

  async allHeld(): Promise<HeldRecord[]> {
    return (await this.rows(HELD_PREFIX)).map((r) => parse(HeldSchema, r.key, r.value));
  }

  putHeld(batch: StoreBatch, h: HeldRecord): void {
    put(batch, heldKey(h.postId, h.commentId), h);
  }

  async outgoing(): Promise<OutRecord[]> {
    return (await this.rows(OUT_PREFIX)).map((r) => parse(OutSchema, r.key, r.value));
  }

  putOut(batch: StoreBatch, o: OutRecord): void {
    put(batch, OUT_PREFIX + o.id, o);
  }

  deleteOut(batch: StoreBatch, id: string): void {
    batch.deleteAll([{ table: 'meta', key: OUT_PREFIX + id }]);
  }

  /** Adds the removal of a post, its indexes, comments, likes and held comments to `batch`; returns its photo digests. */
  async deletePost(batch: StoreBatch, p: PostRecord): Promise<void> {
    const keys = [postKey(p.postId), timeIndexKey(p), byIndexKey(p), LOADING_PREFIX + p.postId];
    for (const prefix of [`${COMMENT_PREFIX}${p.postId}/`, `${LIKE_PREFIX}${p.postId}/`, `${HELD_PREFIX}${p.postId}/`]) for (const r of await this.rows(prefix, batch)) keys.push(r.key);
    batch.deleteAll(keys.map((key) => ({ table: 'meta' as const, key })));
  }

  deleteKey(batch: StoreBatch, key: string): void {
    batch.deleteAll([{ table: 'meta', key }]);
  }
}
