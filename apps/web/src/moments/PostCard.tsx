import { memo, useRef, useState } from 'react';
import type { MomentCommentView, MomentList, MomentPost, ParleyClient, UserId } from '@parley/client';
import { usePeople } from '../app/people';
import { PersonAvatar } from '../components/Avatar';
import { Icon } from '../components/Dialog';
import { FormError } from '../components/FormError';
import { formatFull } from '../lib/format';
import { CommentList, LikesLine } from './Comments';
import { MAX_MOMENT_COMMENT_LENGTH } from './limits';
import { PhotoGrid } from './PhotoGrid';
import { audienceLine, timeAgo } from './format';
import { describeMomentError, Linkified } from './text';

export interface PostActions {
  readonly onOpenPerson: (userId: UserId) => void;
  readonly onOpenPhoto: (post: MomentPost, index: number) => void;
  readonly onDelete: (post: MomentPost) => void;
}

/** One post in a feed: author, time, text, location, photos, likes and comments, and what the viewer can do with it. */
export const PostCard = memo(function PostCard(props: {
  client: ParleyClient;
  post: MomentPost;
  lists: readonly MomentList[] | null;
  actions: PostActions;
  /** Where the post is in its feed, from 1, and how many there are (-1: more may follow): `aria-posinset`, `aria-setsize`. Numbers, so the memo holds while scrolling. */
  posInSet?: number;
  setSize?: number;
}) {
  const { post, client, actions } = props;
  const people = usePeople();
  const author = people.name(post.author.userId, post.author.username);
  const [composing, setComposing] = useState(false);
  const [replyTo, setReplyTo] = useState<MomentCommentView | null>(null);
  const [draft, setDraft] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);
  const feed = props.posInSet === undefined ? {} : { 'aria-posinset': props.posInSet, 'aria-setsize': props.setSize ?? -1 };

  if (post.state !== 'ready') {
    return (
      <article className="moment-post moment-placeholder" aria-label={`Post by ${author}`} aria-busy={post.state === 'loading'} {...feed}>
        <PostHeader post={post} author={author} onOpenPerson={actions.onOpenPerson} />
        <p className="muted">{post.state === 'loading' ? 'Loading this post…' : 'This post could not be loaded.'}</p>
      </article>
    );
  }

  function run(task: () => Promise<unknown>, after?: () => void) {
    setBusy(true);
    setError(null);
    task().then(
      () => {
        setBusy(false);
        after?.();
      },
      (err: unknown) => {
        setBusy(false);
        setError(describeMomentError(err));
      },
    );
  }

  function openComment(to: MomentCommentView | null) {
    setReplyTo(to);
    setComposing(true);
    requestAnimationFrame(() => input.current?.focus());
  }

  function send() {
    const text = draft.trim();
    if (text === '' || busy) return;
    const o = replyTo !== null ? { replyTo: replyTo.id } : {};
    run(
      () => client.moments.comment(post.id, text, o),
      () => {
        setDraft('');
        setReplyTo(null);
        setComposing(false);
      },
    );
  }

  const replyName = replyTo === null ? null : people.name(replyTo.author.userId, replyTo.author.username);
  const sentTo = post.mine ? audienceLine(post.audience, props.lists) : null;
  return (
    <article className="moment-post" aria-label={`Post by ${author}`} {...feed}>
      <PostHeader post={post} author={author} onOpenPerson={actions.onOpenPerson} />
      {post.text !== '' && (
        <p className="moment-text" dir="auto">
          <Linkified text={post.text} />
        </p>
      )}
      <PhotoGrid photos={post.photos} author={author} onOpen={(i) => actions.onOpenPhoto(post, i)} />
      {post.location !== null && (
        <p className="moment-location muted small" dir="auto">
          <span aria-hidden="true">📍 </span>
          <span className="sr-only">Location: </span>
          {post.location}
        </p>
      )}
      <div className="moment-bar">
        {post.mine && (
          <span className="moment-meta muted small">
            {sentTo !== null && (
              <span className="moment-audience" title={post.sentTo !== null ? `Sent to ${post.sentTo} ${post.sentTo === 1 ? 'friend' : 'friends'}` : undefined}>
                <Icon name="group" size={14} /> {sentTo}
              </span>
            )}
            <button type="button" className="link-button moment-delete" onClick={() => actions.onDelete(post)}>
              Delete
            </button>
          </span>
        )}
        <span className="grow" />
        <button type="button" className="moment-action" aria-pressed={post.likedByMe} disabled={busy} onClick={() => run(() => client.moments.like(post.id, !post.likedByMe))}>
          <span aria-hidden="true">{post.likedByMe ? '♥' : '♡'}</span> Like
        </button>
        <button type="button" className="moment-action" aria-expanded={composing} onClick={() => (composing ? setComposing(false) : openComment(null))}>
          <Icon name="chat" size={15} /> Comment
        </button>
      </div>
      {(post.likes.length > 0 || post.comments.length > 0) && (
        <div className="moment-reactions">
          <LikesLine likes={post.likes} />
          <CommentList comments={post.comments} onReply={(c) => openComment(c)} onDelete={(c) => run(() => client.moments.deleteComment(post.id, c.id))} />
        </div>
      )}
      {composing && (
        <form
          className="moment-comment-form"
          onSubmit={(e) => {
            e.preventDefault();
            send();
          }}
        >
          {replyName !== null && (
            <p className="muted small moment-replying">
              Replying to {replyName}
              <button type="button" className="link-button small" onClick={() => setReplyTo(null)}>
                Cancel reply
              </button>
            </p>
          )}
          <div className="inline-field">
            <input
              ref={input}
              className="moment-comment-input"
              aria-label="Write a comment"
              placeholder={replyName !== null ? `Reply to ${replyName}` : 'Write a comment'}
              maxLength={MAX_MOMENT_COMMENT_LENGTH}
              value={draft}
              dir="auto"
              onChange={(e) => setDraft(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === 'Escape') setComposing(false);
              }}
            />
            <button type="submit" className="button primary small" disabled={busy || draft.trim() === ''}>
              {busy ? 'Sending…' : 'Send'}
            </button>
          </div>
        </form>
      )}
      <FormError message={error} />
    </article>
  );
});

function PostHeader(props: { post: MomentPost; author: string; onOpenPerson: (userId: UserId) => void }) {
  const { post } = props;
  return (
    <header className="moment-head">
      <button type="button" className="moment-author" onClick={() => props.onOpenPerson(post.author.userId)}>
        <PersonAvatar userId={post.author.userId} username={post.author.username} />
        <span className="moment-author-name" dir="auto">
          {props.author}
        </span>
      </button>
      <time className="muted small" dateTime={new Date(post.postedAt).toISOString()} title={formatFull(post.postedAt)}>
        {timeAgo(post.postedAt)}
      </time>
    </header>
  );
}
