import { momentWindowMs, newContentId, sealMomentComment } from '@parley/crypto';
import type { MomentComment, MomentWindow } from '@parley/crypto';
import { fromBase64Url } from '@parley/protocol';
import type { BlobDigest, UserId } from '@parley/protocol';
import type { ClientCore } from '../core/context.js';
import type { GroupState } from '../core/group-state.js';
import type { Outbox } from '../core/outbox.js';
import type { Conversations } from '../conversations/conversations.js';
import { ClientError } from '../errors.js';
import type { Contacts } from '../people/contacts.js';
import { StoreBatch } from '../store/records.js';
import type { ContentHandler, IncomingContent, InboxBatch } from '../sync/content-handlers.js';
import { importMoments, momentArchiveLines } from './moment-archive.js';
import type { ArchivedMoment } from './moment-archive.js';
import { MomentFetcher } from './moment-fetch.js';
import { MomentNotices } from './moment-notices.js';
import { HELD_COMMENT_MS, MomentInbox } from './moment-inbox.js';
import type { MomentHost } from './moment-inbox.js';
import { checkWindow, postContent, preparePost } from './moment-input.js';
import { MomentLists } from './moment-lists.js';
import { BY_PREFIX, MomentRecords, TIME_PREFIX } from './moment-records.js';
import type { PostRecord } from './moment-records.js';
import { MomentSender } from './moment-sender.js';
import { commentView, postView } from './moment-views.js';
import type { MomentCommentView, MomentList, MomentNotice, MomentPage, MomentPerson, MomentPost, MomentPostInput } from './moment-types.js';

/** A new friend gets at most this many of the posts that went to all friends. */
export const BACKFILL_POSTS = 50;
const DEFAULT_PAGE = 20;
const MAX_PAGE = 100;

/**
 * client.moments: a friends-only feed the server cannot read (docs/moments.md).
 *
 * Friends are mutual contacts: each side says `moment_hello` when it adds (or
 * removes) the other, and posts, likes and comments flow only while both said
 * yes. A post is an encrypted body blob and photo blobs, uploaded once, and one
 * small reference per friend in the audience, in the pair's own 1:1 group. A
 * like or comment is sealed under the post's comment key and sent to all of
 * the commenter's friends: only those in the post's audience can open it.
 */
/** client.moments. */
export type MomentsApi = Pick<
  Moments,
  'post' | 'timeline' | 'byUser' | 'get' | 'delete' | 'like' | 'comment' | 'deleteComment' | 'photo' | 'friends' | 'lists' | 'saveList' | 'deleteList' | 'window' | 'setWindow' | 'notices' | 'unseenCount' | 'markSeen'
>;

export class Moments implements MomentHost, ContentHandler {
  readonly records: MomentRecords;
  readonly sender: MomentSender;
  readonly listStore: MomentLists;
  private readonly inbox: MomentInbox;
  private readonly fetcher: MomentFetcher;
  private readonly noticeStore: MomentNotices;
  private reconciling: Promise<void> = Promise.resolve();
  /** Set by wireFeatures: client.contacts. */
  contacts: Pick<Contacts, 'has' | 'list'> | undefined;
  /** Set by wireFeatures: the media settings (photos up to `autoDownloadMaxBytes` are kept on arrival, larger ones when viewed). */
  autoDownloadMaxBytes: () => Promise<number> = () => Promise.resolve(0);

  constructor(
    private readonly core: ClientCore,
    state: GroupState,
    outbox: Outbox,
    conversations: Conversations,
    private readonly now: () => number,
  ) {
    this.records = new MomentRecords(core.repo);
    this.sender = new MomentSender(core, state, outbox, conversations, this.records);
    this.listStore = new MomentLists(core, outbox, this.records, now, () => this.friendIds());
    this.inbox = new MomentInbox(core, this.records, this, now);
    this.noticeStore = new MomentNotices(core, this.records);
    this.fetcher = new MomentFetcher(core, this.records, () => this.autoDownloadMaxBytes());
  }

  private me(): UserId {
    return this.core.session().account.userId;
  }

  apply(into: InboxBatch, incoming: IncomingContent): Promise<void> {
    return this.inbox.apply(into, incoming);
  }

  /* ---------------- friends ---------------- */

  async isFriend(userId: UserId): Promise<boolean> {
    if (!(await this.contacts?.has(userId))) return false;
    return (await this.records.friend(userId))?.theySay === true;
  }

  private async friendIds(): Promise<UserId[]> {
    const contacts = new Set((await this.contacts?.list())?.map((c) => c.userId) ?? []);
    return (await this.records.friends()).filter((f) => f.theySay && contacts.has(f.userId)).map((f) => f.userId);
  }

  /** Mutual contacts (both said hello), by username. */
  async friends(): Promise<MomentPerson[]> {
    this.core.session();
    const contacts = new Map((await this.contacts?.list())?.map((c) => [c.userId, c.username]) ?? []);
    return (await this.records.friends())
      .filter((f) => f.theySay && contacts.has(f.userId))
      .map((f) => ({ userId: f.userId, username: contacts.get(f.userId) ?? f.username }))
      .sort((a, b) => ((a.username ?? '') < (b.username ?? '') ? -1 : 1));
  }

  /** Says hello (or goodbye) to each contact whose last word from this user differs from the contact list (after a change, after each sync). */
  /**
   * `open`: the contact list changed on this device, so this device speaks for its user and opens
   * a pair where there is none. A change that came from another own device (or a sync) opens none:
   * that device opened it, and a device still being added to its user's groups must not open a
   * second pair with every friend.
   */
  reconcile(open: boolean): Promise<void> {
    return this.serial(() => this.reconcileNow(open));
  }

  /** Friendship changes one at a time (contact changes and hellos arrive in bursts). */
  private serial(task: () => Promise<void>): Promise<void> {
    const next = this.reconciling.then(task);
    this.reconciling = next.catch(() => undefined);
    return next;
  }

  private async reconcileNow(open: boolean): Promise<void> {
    const contacts = (await this.contacts?.list()) ?? [];
    const ids = new Set(contacts.map((c) => c.userId));
    for (const c of contacts) if ((await this.records.friend(c.userId))?.iSaid !== true) await this.sayHello(c.userId, c.username, true, open);
    for (const f of await this.records.friends()) if (f.iSaid === true && !ids.has(f.userId)) await this.sayHello(f.userId, f.username, false);
  }

  private async sayHello(userId: UserId, username: string | null, friend: boolean, open = true): Promise<void> {
    const held = (await this.records.friend(userId)) ?? { userId, username, theySay: false, window: 'all' as const, heardAt: null, iSaid: null, backfilled: false };
    const batch = new StoreBatch();
    this.records.putFriend(batch, { ...held, iSaid: friend, backfilled: friend ? held.backfilled : false });
    if (!friend) await this.forget(batch, userId);
    await this.core.repo.commit(batch);
    this.core.emit('moments', { kind: 'friends' });
    const { window } = await this.records.settings();
    await this.sender.send({ type: 'moment_hello', v: 1, id: newContentId(), sentAt: this.now(), friend, window }, [userId], [], [], open);
    if (friend && held.theySay) await this.backfill(userId);
  }

  helloArrived(userId: UserId, friend: boolean): void {
    void this.serial(async () => {
      const f = await this.records.friend(userId);
      if (!friend || f === undefined || !(await this.contacts?.has(userId))) return;
      if (f.iSaid !== true) await this.sayHello(userId, f.username, true);
      else await this.backfill(userId);
    }).catch((err: unknown) => this.core.isClosed() || this.core.emitError('moment_invalid', err));
  }

  /** A new friend gets this user's newest posts that went to all friends, within the window (once per friendship). */
  private async backfill(userId: UserId): Promise<void> {
    const f = await this.records.friend(userId);
    if (f === undefined || f.backfilled || !f.theySay) return;
    const { window } = await this.records.settings();
    const windowMs = momentWindowMs(window);
    const cutoff = windowMs === null ? 0 : this.now() - windowMs;
    const sends: PostRecord[] = [];
    for (const row of await this.records.timelinePage(`${BY_PREFIX}${this.me()}/`, null, 500)) {
      const p = await this.records.post(row.key.slice(row.key.lastIndexOf('/') + 1));
      if (p === undefined || p.postedAt < cutoff) continue;
      if (p.audience?.kind === 'friends' && !p.sentTo.includes(userId)) sends.push(p);
      if (sends.length >= BACKFILL_POSTS) break;
    }
    const batch = new StoreBatch();
    this.records.putFriend(batch, { ...f, backfilled: true });
    for (const p of sends) this.records.putPost(batch, { ...p, sentTo: [...p.sentTo, userId] });
    await this.core.repo.commit(batch);
    for (const p of sends.reverse()) await this.sendReference(p, [userId], window);
  }

  async forget(batch: StoreBatch, userId: UserId): Promise<void> {
    for (const row of await this.records.rows(`${BY_PREFIX}${userId}/`, batch)) {
      const p = await this.records.post(row.key.slice(row.key.lastIndexOf('/') + 1), batch);
      if (p === undefined) continue;
      await this.dropPhotos(batch, p);
      await this.records.deletePost(batch, p);
    }
    for (const row of await this.records.rows(`${BY_PREFIX}${this.me()}/`, batch)) {
      const postId = row.key.slice(row.key.lastIndexOf('/') + 1);
      for (const c of await this.records.comments(postId, batch)) if (c.author === userId) this.records.deleteKey(batch, `moments/comment/${postId}/${String(c.sentAt).padStart(16, '0')}/${c.commentId}`);
      for (const l of await this.records.likes(postId, batch)) if (l.author === userId) this.records.deleteKey(batch, `moments/like/${postId}/${userId}`);
    }
  }

  /** The history archive's Moments part, on the sending device (history/). */
  archiveLines(since: number | null): AsyncIterable<{ key: string; value: string }> {
    return momentArchiveLines(this.records, since);
  }

  /** Moments from a history archive (history/): added to `batch`; bodies and photos fetched once it is stored. */
  async importInto(batch: StoreBatch, items: readonly ArchivedMoment[]): Promise<() => void> {
    const me = this.me();
    const added = await importMoments(this.records, batch, items, async (author) => author === me || (await this.isFriend(author)));
    return () => {
      if (added.length > 0) this.core.emit('moments', { kind: 'post' });
      for (const postId of added) this.fetchBody(postId, true);
    };
  }

  /* ---------------- posting ---------------- */

  async post(input: MomentPostInput): Promise<MomentPost> {
    const { account } = this.core.session();
    const prepared = preparePost(input);
    const audience = prepared.audience;
    const to = await this.listStore.audienceOf(audience);
    const uploaded = await postContent(this.core.api, prepared, account.userId);
    const { window } = await this.records.settings();
    const record: PostRecord = {
      postId: uploaded.postId,
      salt: uploaded.salt,
      author: account.userId,
      authorName: account.username,
      postedAt: this.now(),
      window,
      body: uploaded.body,
      state: 'ready',
      attempts: 0,
      content: uploaded.content,
      audience: audience.kind === 'friends' ? { kind: 'friends' } : { kind: audience.kind, lists: [...audience.lists] },
      sentTo: to,
      receivedAt: this.now(),
    };
    const batch = new StoreBatch();
    this.records.putPost(batch, record);
    await this.fetcher.keep(batch, uploaded.photos);
    await this.core.repo.commit(batch);
    this.core.emit('moments', { kind: 'post', postId: record.postId });
    // The references are queued (stored) before post() returns, and go out in the background: the app need not wait for N sends.
    if (await this.queueReference(record, to, window)) {
      this.sender.flush().catch((err: unknown) => this.core.isClosed() || this.core.emitError('moment_invalid', err));
    }
    return this.view(record);
  }

  private async sendReference(p: PostRecord, to: readonly UserId[], window: MomentWindow): Promise<void> {
    if (await this.queueReference(p, to, window)) await this.sender.flush();
  }

  private async queueReference(p: PostRecord, to: readonly UserId[], window: MomentWindow): Promise<boolean> {
    const key = fromBase64Url(p.body.key);
    const nonce = fromBase64Url(p.body.nonce);
    const salt = fromBase64Url(p.salt);
    if (key === undefined || nonce === undefined || salt === undefined) return false;
    const blobs: BlobDigest[] = [p.body.digest as BlobDigest, ...(p.content?.photos ?? []).map((ph) => ph.digest as BlobDigest)];
    return this.sender.enqueue({ type: 'moment_post', v: 1, id: newContentId(), sentAt: this.now(), postId: p.postId, salt, postedAt: p.postedAt, body: { digest: p.body.digest as BlobDigest, key, nonce, size: p.body.size }, window }, to, blobs);
  }

  /** Deletes an own post here and on every device it went to. */
  async delete(postId: string): Promise<void> {
    const me = this.me();
    const p = await this.records.post(postId);
    if (p === undefined) throw new ClientError('not_found', 'no such post');
    if (p.author !== me) throw new ClientError('forbidden', 'only its author deletes a post');
    const batch = new StoreBatch();
    await this.dropPhotos(batch, p);
    await this.records.deletePost(batch, p);
    await this.core.repo.commit(batch);
    this.core.emit('moments', { kind: 'removed', postId });
    // Every friend: a post's recipients on another device of this user are not all known here.
    const to = new Set([...p.sentTo, ...(await this.friendIds())]);
    await this.sender.send({ type: 'moment_delete', v: 1, id: newContentId(), sentAt: this.now(), postId }, [...to]);
  }

  /* ---------------- likes and comments ---------------- */

  async like(postId: string, liked: boolean): Promise<void> {
    const me = this.me();
    const p = await this.readable(postId);
    const held = (await this.records.likes(postId)).find((l) => l.author === me);
    if (liked === (held !== undefined)) return;
    if (!liked && held !== undefined) {
      const batch = new StoreBatch();
      this.records.deleteKey(batch, `moments/like/${postId}/${me}`);
      await this.core.repo.commit(batch);
      this.core.emit('moments', { kind: 'comments', postId });
      await this.sender.send({ type: 'moment_comment_delete', v: 1, id: newContentId(), sentAt: this.now(), postId, commentId: held.commentId }, await this.commentAudience(p));
      return;
    }
    const comment: MomentComment = { v: 1, commentId: newContentId(), like: true, sentAt: this.now() };
    await this.sendComment(p, comment, [p.author], () => {
      const batch = new StoreBatch();
      this.records.putLike(batch, { postId, commentId: comment.commentId, author: me, authorName: this.core.session().account.username, sentAt: comment.sentAt, sentTo: [] });
      return batch;
    });
  }

  async comment(postId: string, text: string, options: { replyTo?: string } = {}): Promise<MomentCommentView> {
    const { account } = this.core.session();
    const p = await this.readable(postId);
    if (typeof text !== 'string' || text.trim().length === 0) throw new ClientError('bad_request', 'a comment has text');
    const replyTo = options.replyTo;
    const comments = await this.records.comments(postId);
    if (replyTo !== undefined && !comments.some((c) => c.commentId === replyTo)) throw new ClientError('not_found', 'no such comment');
    const comment: MomentComment = { v: 1, commentId: newContentId(), like: false, text, sentAt: this.now(), ...(replyTo === undefined ? {} : { replyTo }) };
    const record = { postId, commentId: comment.commentId, author: account.userId, authorName: account.username, text, replyTo: replyTo ?? null, sentAt: comment.sentAt, sentTo: [] };
    // The post's author, and the author of the comment answered, are told (a notice, a push when their app is closed).
    const target = replyTo === undefined ? undefined : comments.find((c) => c.commentId === replyTo)?.author;
    await this.sendComment(p, comment, target === undefined ? [p.author] : [p.author, target], () => {
      const batch = new StoreBatch();
      this.records.putComment(batch, record);
      return batch;
    });
    return commentView(record, account.userId, new Map(comments.map((c) => [c.commentId, c])));
  }

  async deleteComment(postId: string, commentId: string): Promise<void> {
    const me = this.me();
    const p = await this.readable(postId);
    const c = (await this.records.comments(postId)).find((x) => x.commentId === commentId);
    if (c === undefined) throw new ClientError('not_found', 'no such comment');
    if (c.author !== me) throw new ClientError('forbidden', 'only its author deletes a comment');
    const batch = new StoreBatch();
    this.records.deleteKey(batch, `moments/comment/${postId}/${String(c.sentAt).padStart(16, '0')}/${commentId}`);
    await this.core.repo.commit(batch);
    this.core.emit('moments', { kind: 'comments', postId });
    await this.sender.send({ type: 'moment_comment_delete', v: 1, id: newContentId(), sentAt: this.now(), postId, commentId }, await this.commentAudience(p));
  }

  /** A comment goes to all of the commenter's friends, and the post's author: only those who hold the post can open it. */
  private async commentAudience(p: PostRecord): Promise<UserId[]> {
    const me = this.me();
    const to = new Set(await this.friendIds());
    if (p.author !== me) to.add(p.author);
    return [...to];
  }

  private async sendComment(p: PostRecord, comment: MomentComment, wake: readonly UserId[], store: () => StoreBatch): Promise<void> {
    const key = fromBase64Url(p.body.key);
    if (key === undefined) throw new ClientError('internal', 'post key unreadable');
    const sealed = await sealMomentComment(key, p.postId, comment);
    await this.core.repo.commit(store());
    this.core.emit('moments', { kind: 'comments', postId: p.postId });
    await this.sender.send({ type: 'moment_comment', v: 1, id: newContentId(), sentAt: this.now(), postId: p.postId, sealed }, await this.commentAudience(p), [], wake);
  }

  private async readable(postId: string): Promise<PostRecord> {
    this.core.session();
    if (typeof postId !== 'string') throw new ClientError('bad_request', 'a post id is a string');
    const p = await this.records.post(postId);
    if (p === undefined) throw new ClientError('not_found', 'no such post');
    return p;
  }

  /* ---------------- reading ---------------- */

  async timeline(options: { before?: string | null; limit?: number } = {}): Promise<MomentPage> {
    return this.page(TIME_PREFIX, options);
  }

  async byUser(userId: UserId, options: { before?: string | null; limit?: number } = {}): Promise<MomentPage> {
    if (typeof userId !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(userId)) throw new ClientError('bad_request', 'not a user id');
    return this.page(`${BY_PREFIX}${userId}/`, options);
  }

  private async page(prefix: string, options: { before?: string | null; limit?: number }): Promise<MomentPage> {
    this.core.session();
    const limit = Math.max(1, Math.min(MAX_PAGE, Math.floor(options.limit ?? DEFAULT_PAGE)));
    const before = options.before ?? null;
    if (before !== null && (typeof before !== 'string' || !before.startsWith(prefix))) throw new ClientError('bad_request', 'not a cursor of this list');
    const rows = await this.records.timelinePage(prefix, before, limit);
    const visible = await this.visibility();
    const posts: MomentPost[] = [];
    for (const row of rows) {
      const p = await this.records.post(row.key.slice(row.key.lastIndexOf('/') + 1));
      if (p !== undefined) posts.push(await this.view(p, visible));
    }
    const last = rows.at(-1);
    return { posts, next: rows.length === limit && last !== undefined ? last.key : null };
  }

  async get(postId: string): Promise<MomentPost | null> {
    this.core.session();
    const p = await this.records.post(postId);
    return p === undefined ? null : this.view(p);
  }

  private async visibility(): Promise<(userId: UserId) => boolean> {
    const me = this.me();
    const friends = new Set(await this.friendIds());
    return (u) => u === me || friends.has(u);
  }

  private async view(p: PostRecord, visible?: (userId: UserId) => boolean): Promise<MomentPost> {
    return postView(p, this.me(), await this.records.comments(p.postId), await this.records.likes(p.postId), visible ?? (await this.visibility()));
  }

  /** A photo's bytes: from the device, else downloaded, checked and kept. */
  async photo(postId: string, index: number): Promise<Uint8Array> {
    return this.fetcher.photo(await this.readable(postId), index);
  }

  dropPhotos(batch: StoreBatch, p: PostRecord): Promise<void> {
    return this.fetcher.dropPhotos(batch, p);
  }

  /** Fetches and opens a post's body, then keeps its photos (in the background). */
  fetchBody(postId: string, photosToo = false): void {
    this.fetcher.fetchBody(postId, photosToo);
  }

  /* ---------------- lists ---------------- */

  lists(): Promise<MomentList[]> {
    return this.listStore.list();
  }

  /** Creates (no `id`) or changes a list; synced to this user's other devices, never sent to anyone else. */
  saveList(input: { id?: string; name: string; members: readonly UserId[] }): Promise<MomentList> {
    return this.listStore.save(input);
  }

  deleteList(id: string): Promise<void> {
    return this.listStore.remove(id);
  }

  /* ---------------- settings and notices ---------------- */

  async window(): Promise<MomentWindow> {
    this.core.session();
    return (await this.records.settings()).window;
  }

  /** How far back friends may look; sent to every friend (their devices drop older posts of this user). */
  async setWindow(window: MomentWindow): Promise<void> {
    this.core.session();
    checkWindow(window);
    const held = await this.records.settings();
    const batch = new StoreBatch();
    this.records.putSettings(batch, { window, updatedAt: Math.max(this.now(), held.updatedAt + 1) });
    await this.core.repo.commit(batch);
    this.core.emit('moments', { kind: 'window' });
    await this.sender.send({ type: 'moment_hello', v: 1, id: newContentId(), sentAt: this.now(), friend: true, window }, await this.friendIds());
  }

  /** Likes and comments on this user's posts, replies to this user's comments (moment-notices.ts). */
  notices(): Promise<MomentNotice[]> {
    return this.noticeStore.list();
  }

  unseenCount(): Promise<number> {
    return this.noticeStore.unseenCount();
  }

  markSeen(): Promise<void> {
    return this.noticeStore.markSeen();
  }

  /* ---------------- upkeep ---------------- */

  /** After each sync: pending sends, bodies still to fetch, hellos owed, posts past their author's window, stale held comments. */
  async onSynced(): Promise<void> {
    await this.sender.flush();
    await this.reconcile(false);
    await this.sweep();
    for (const postId of await this.records.loading()) this.fetchBody(postId);
  }

  sweepSoon(): void {
    this.serial(() => this.sweep()).catch((err: unknown) => this.core.isClosed() || this.core.emitError('moment_invalid', err));
  }

  /** Drops friends' posts older than their author's window, and comments held longer than a day. */
  async sweep(): Promise<void> {
    const batch = new StoreBatch();
    let removed = 0;
    for (const f of await this.records.friends()) {
      const ms = momentWindowMs(f.window);
      if (ms === null) continue;
      const cutoff = `${BY_PREFIX}${f.userId}/${String(Math.max(0, this.now() - ms)).padStart(16, '0')}`;
      for (const row of await this.records.rows(`${BY_PREFIX}${f.userId}/`)) {
        if (row.key >= cutoff) break;
        const p = await this.records.post(row.key.slice(row.key.lastIndexOf('/') + 1), batch);
        if (p === undefined) continue;
        await this.dropPhotos(batch, p);
        await this.records.deletePost(batch, p);
        removed++;
      }
    }
    for (const h of await this.records.allHeld()) if (h.receivedAt < this.now() - HELD_COMMENT_MS) this.records.deleteKey(batch, `moments/held/${h.postId}/${h.commentId}`);
    await this.noticeStore.prune(batch);
    if (batch.writes.length === 0) return;
    await this.core.repo.commit(batch);
    if (removed > 0) this.core.emit('moments', { kind: 'removed' });
  }
}
