import { momentPostId, momentWindowMs, newContentId, openMomentComment } from '@parley/crypto';
import type { MessageContent, MomentComment, MomentCommentContent, MomentPostContent } from '@parley/crypto';
import { fromBase64Url, toBase64Url } from '@parley/protocol';
import type { UserId } from '@parley/protocol';
import type { ClientCore } from '../core/context.js';
import { ClientError } from '../errors.js';
import type { StoreBatch } from '../store/records.js';
import type { ContentHandler, IncomingContent, InboxBatch } from '../sync/content-handlers.js';
import { commentKey, likeKey } from './moment-records.js';
import type { MomentRecords, PostRecord } from './moment-records.js';
import type { MomentEvent } from './moment-types.js';

/** Comments held for a post that has not arrived (it travels in another pair's group): at most this many, this long. */
export const MAX_HELD_COMMENTS = 1_000;
/** ...and at most this many from one sender, so one friend cannot crowd out the others'. */
export const MAX_HELD_PER_SENDER = 200;
export const HELD_COMMENT_MS = 24 * 60 * 60 * 1000;

/** What the inbox asks of the rest of the module (moments.ts). */
export interface MomentHost {
  /** A friend now: a contact who said hello (Moments flow only between friends). */
  isFriend(userId: UserId): Promise<boolean>;
  /** After a hello was stored: answer it, start or end the friendship. */
  helloArrived(userId: UserId, friend: boolean): void;
  /** Adds the removal of everything of `userId` this device holds under friendship to `batch` (their posts, their comments on own posts). */
  forget(batch: StoreBatch, userId: UserId): Promise<void>;
  /** A post's body is to be fetched (after the reference is stored). */
  fetchBody(postId: string): void;
  /** A friend's window changed: their posts past it go (after the batch is stored). */
  sweepSoon(): void;
  /** Drops the kept photos of a post being deleted (in `batch`). */
  dropPhotos(batch: StoreBatch, post: PostRecord): Promise<void>;
}

/**
 * Moments traffic as it arrives in a pair's 1:1 group (docs/moments.md). Each
 * message is checked before anything of it is stored: it must come from one of
 * the pair (the other user, or another device of this user); posts and
 * comments only from a friend; deletes only from the author. What fails is
 * dropped with a `moment_invalid` error event, and nothing of it is written.
 */
export class MomentInbox implements ContentHandler {
  constructor(
    private readonly core: ClientCore,
    private readonly records: MomentRecords,
    private readonly host: MomentHost,
    private readonly now: () => number,
  ) {}

  async apply(into: InboxBatch, incoming: IncomingContent): Promise<void> {
    const { content, sender, conversationId, seq } = incoming;
    if (!content.type.startsWith('moment_') || conversationId === this.core.hiddenGroup()) return;
    const me = this.core.session().account.userId;
    const users = [...new Set(into.conv.members.map((m) => m.userId))];
    const other = users.find((u) => u !== me);
    const refuse = (why: string): void => into.afterCommit(() => this.core.emitError('moment_invalid', new ClientError('bad_request', why), { conversationId, seq }));
    if (users.length !== 2 || other === undefined || !users.includes(me) || (sender.userId !== me && sender.userId !== other)) {
      // A hello that was on its way while the 1:1 grew into a group says nothing to anyone: dropped quietly.
      if (content.type === 'moment_hello') return;
      return refuse('Moments travel only in a 1:1 group between friends');
    }
    const name = (u: UserId): string | null => into.conv.members.find((m) => m.userId === u)?.username ?? null;
    const emit = (e: MomentEvent): void => into.afterCommit(() => this.core.emit('moments', e));
    const ctx: Ctx = { into, me, other, sender: sender.userId, name, refuse, emit };
    await this.dispatch(ctx, content);
  }

  private async dispatch(ctx: Ctx, content: MessageContent): Promise<void> {
    switch (content.type) {
      case 'moment_hello':
        return this.hello(ctx, content.friend, content.window, content.sentAt);
      case 'moment_post':
        return this.post(ctx, content);
      case 'moment_delete':
        return this.deletePost(ctx, content.postId);
      case 'moment_comment':
        return this.comment(ctx, content);
      case 'moment_comment_delete':
        return this.deleteComment(ctx, content.postId, content.commentId);
      default:
        return undefined;
    }
  }

  private async hello(ctx: Ctx, friend: boolean, window: MomentPostContent['window'], sentAt: number): Promise<void> {
    const { into, other } = ctx;
    const held = (await this.records.friend(other, into.batch)) ?? { userId: other, username: ctx.name(other), theySay: false, window: 'all' as const, heardAt: null, iSaid: null, backfilled: false };
    if (ctx.sender !== other) {
      // Another device of this user said it: this user's own stance and window.
      this.records.putFriend(into.batch, { ...held, iSaid: friend });
      const settings = await this.records.settings(into.batch);
      if (sentAt > settings.updatedAt) this.records.putSettings(into.batch, { window, updatedAt: sentAt });
      return;
    }
    // An older hello (it travelled in another pair group, or a device passed on what it knew) changes nothing.
    if (held.heardAt !== null && sentAt < held.heardAt) return;
    this.records.putFriend(into.batch, { ...held, username: ctx.name(other) ?? held.username, theySay: friend, window, heardAt: sentAt, backfilled: friend ? held.backfilled : false });
    if (!friend && held.theySay) await this.host.forget(into.batch, other);
    if (window !== held.window) into.afterCommit(() => this.host.sweepSoon());
    into.afterCommit(() => this.host.helloArrived(other, friend));
    ctx.emit({ kind: 'friends' });
  }

  private async post(ctx: Ctx, c: MomentPostContent): Promise<void> {
    const { into, me, other, sender } = ctx;
    if ((await momentPostId(sender, c.salt)) !== c.postId) return ctx.refuse("a post id that is not bound to its sender");
    const held = await this.records.post(c.postId, into.batch);
    if (held !== undefined) {
      if (held.author !== sender) return ctx.refuse('a post id that belongs to another author');
      // This user's own post, sent to another friend from another of its devices: one more recipient.
      if (sender === me && !held.sentTo.includes(other)) this.records.putPost(into.batch, { ...held, sentTo: [...held.sentTo, other] });
      return;
    }
    if (sender !== me) {
      if (!(await this.host.isFriend(sender))) return ctx.refuse('a post from someone who is not a friend');
      const windowMs = momentWindowMs(c.window);
      // Older than its author lets friends look back: not kept (a backfill never sends such posts; a modified client might).
      if (windowMs !== null && c.postedAt < this.now() - windowMs) return;
    }
    // A time in the future would pin the post at the top of the timeline: it counts from now at most.
    const postedAt = Math.min(c.postedAt, this.now());
    const record: PostRecord = {
      postId: c.postId,
      salt: toBase64Url(c.salt),
      author: sender,
      authorName: ctx.name(sender),
      postedAt,
      window: c.window,
      body: { digest: c.body.digest, key: toBase64Url(c.body.key), nonce: toBase64Url(c.body.nonce), size: c.body.size },
      state: 'loading',
      attempts: 0,
      content: null,
      audience: null,
      sentTo: sender === me ? [other] : [],
      receivedAt: this.now(),
    };
    this.records.putPost(into.batch, record);
    // Comments that came before it.
    for (const h of await this.records.held(c.postId, into.batch)) {
      this.records.deleteKey(into.batch, `moments/held/${h.postId}/${h.commentId}`);
      const sealed = fromBase64Url(h.sealed);
      if (sealed !== undefined) await this.storeComment(ctx, record, h.from, h.fromName, sealed);
    }
    into.afterCommit(() => this.host.fetchBody(c.postId));
    ctx.emit({ kind: 'post', postId: c.postId });
  }

  private async deletePost(ctx: Ctx, postId: string): Promise<void> {
    const post = await this.records.post(postId, ctx.into.batch);
    if (post === undefined) return;
    if (post.author !== ctx.sender) return ctx.refuse('only its author deletes a post');
    await this.host.dropPhotos(ctx.into.batch, post);
    await this.records.deletePost(ctx.into.batch, post);
    ctx.emit({ kind: 'removed', postId });
  }

  private async comment(ctx: Ctx, c: MomentCommentContent): Promise<void> {
    const { into, sender } = ctx;
    if (sender !== ctx.me && !(await this.host.isFriend(sender))) return ctx.refuse('a comment from someone who is not a friend');
    const post = await this.records.post(c.postId, into.batch);
    if (post === undefined) {
      const all = await this.records.allHeld();
      if (all.length >= MAX_HELD_COMMENTS || all.filter((h) => h.from === sender).length >= MAX_HELD_PER_SENDER) return ctx.refuse('too many comments wait for their posts');
      this.records.putHeld(into.batch, { postId: c.postId, commentId: newContentId(), from: sender, fromName: ctx.name(sender), sealed: toBase64Url(c.sealed), receivedAt: this.now() });
      return;
    }
    await this.storeComment(ctx, post, sender, ctx.name(sender), c.sealed);
  }

  /** Opens a comment on a post this device holds; one it cannot open (its author's friend outside the post's audience) is dropped silently. */
  private async storeComment(ctx: Ctx, post: PostRecord, from: UserId, fromName: string | null, sealed: Uint8Array): Promise<void> {
    const key = fromBase64Url(post.body.key);
    if (key === undefined) return;
    let comment: MomentComment;
    try {
      comment = await openMomentComment(key, post.postId, sealed);
    } catch {
      return;
    }
    const { into, me } = ctx;
    if (comment.like) {
      const prev = (await this.records.likes(post.postId, into.batch)).find((l) => l.author === from);
      if (prev !== undefined && prev.sentAt > comment.sentAt) return;
      this.records.putLike(into.batch, { postId: post.postId, commentId: comment.commentId, author: from, authorName: fromName, sentAt: comment.sentAt, sentTo: [] });
    } else {
      const existing = await this.records.comments(post.postId, into.batch);
      if (existing.some((x) => x.commentId === comment.commentId)) return;
      this.records.putComment(into.batch, { postId: post.postId, commentId: comment.commentId, author: from, authorName: fromName, text: comment.text ?? '', replyTo: comment.replyTo ?? null, sentAt: comment.sentAt, sentTo: [] });
      const target = comment.replyTo === undefined ? undefined : existing.find((x) => x.commentId === comment.replyTo);
      if (from !== me && target?.author === me) {
        this.records.putNotice(into.batch, { id: comment.commentId, kind: 'reply', postId: post.postId, from, fromName, text: comment.text ?? null, at: this.now() });
        ctx.emit({ kind: 'notices', postId: post.postId });
      }
    }
    if (from !== me && post.author === me && !(comment.replyTo !== undefined && (await this.records.comments(post.postId, into.batch)).find((x) => x.commentId === comment.replyTo)?.author === me)) {
      this.records.putNotice(into.batch, { id: comment.commentId, kind: comment.like ? 'like' : 'comment', postId: post.postId, from, fromName, text: comment.text ?? null, at: this.now() });
      ctx.emit({ kind: 'notices', postId: post.postId });
    }
    ctx.emit({ kind: 'comments', postId: post.postId });
  }

  private async deleteComment(ctx: Ctx, postId: string, commentId: string): Promise<void> {
    const { into, sender } = ctx;
    const comment = (await this.records.comments(postId, into.batch)).find((c) => c.commentId === commentId);
    const like = (await this.records.likes(postId, into.batch)).find((l) => l.commentId === commentId);
    const found = comment ?? like;
    if (found === undefined) return;
    if (found.author !== sender) return ctx.refuse('only its author deletes a comment');
    this.records.deleteKey(into.batch, comment !== undefined ? commentKey(comment) : likeKey(postId, sender));
    ctx.emit({ kind: 'comments', postId });
  }
}

interface Ctx {
  readonly into: InboxBatch;
  readonly me: UserId;
  /** The other user of the pair. */
  readonly other: UserId;
  readonly sender: UserId;
  name(userId: UserId): string | null;
  refuse(why: string): void;
  emit(e: MomentEvent): void;
}
