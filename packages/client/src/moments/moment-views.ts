import { fromBase64Url } from '@parley/protocol';
import type { UserId } from '@parley/protocol';
import type { CommentRecord, LikeRecord, NoticeRecord, PostRecord } from './moment-records.js';
import type { MomentCommentView, MomentNotice, MomentPhoto, MomentPost } from './moment-types.js';

/**
 * A post as the app shows it. Likes and comments are only those of people
 * `visible` says this user may see (friends, and this user): the rule is
 * applied on arrival and again here, so a friendship that ended hides them.
 */
export function postView(p: PostRecord, me: UserId, comments: readonly CommentRecord[], likes: readonly LikeRecord[], visible: (userId: UserId) => boolean): MomentPost {
  const shownComments = comments.filter((c) => visible(c.author));
  const byId = new Map(shownComments.map((c) => [c.commentId, c]));
  const shownLikes = likes.filter((l) => visible(l.author)).sort((a, b) => a.sentAt - b.sentAt);
  const photos: MomentPhoto[] = (p.content?.photos ?? []).map((ph, index) => {
    const data = ph.thumbnail === undefined ? undefined : fromBase64Url(ph.thumbnail.data);
    return { index, mimeType: ph.mimeType, width: ph.width, height: ph.height, size: ph.size, thumbnail: ph.thumbnail === undefined || data === undefined ? null : { mimeType: ph.thumbnail.mimeType, data } };
  });
  return {
    id: p.postId,
    author: { userId: p.author, username: p.authorName },
    mine: p.author === me,
    postedAt: p.postedAt,
    state: p.state,
    text: p.content?.text ?? '',
    location: p.content?.location ?? null,
    photos,
    likes: shownLikes.map((l) => ({ author: { userId: l.author, username: l.authorName }, sentAt: l.sentAt })),
    likedByMe: shownLikes.some((l) => l.author === me),
    comments: shownComments.map((c) => commentView(c, me, byId)),
    audience: p.author === me ? p.audience : null,
    sentTo: p.author === me ? p.sentTo.length : null,
  };
}

export function commentView(c: CommentRecord, me: UserId, byId: ReadonlyMap<string, CommentRecord>): MomentCommentView {
  const target = c.replyTo === null ? undefined : byId.get(c.replyTo);
  return {
    id: c.commentId,
    author: { userId: c.author, username: c.authorName },
    text: c.text,
    replyTo: c.replyTo === null ? null : { id: c.replyTo, author: target === undefined ? null : { userId: target.author, username: target.authorName } },
    sentAt: c.sentAt,
    mine: c.author === me,
  };
}

export function noticeView(n: NoticeRecord, seenAt: number): MomentNotice {
  return { id: n.id, kind: n.kind, postId: n.postId, from: { userId: n.from, username: n.fromName }, text: n.text, at: n.at, seen: n.at <= seenAt };
}
