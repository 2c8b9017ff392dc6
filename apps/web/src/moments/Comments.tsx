import { usePeople } from '../app/people';
import { Icon } from '../components/Dialog';
import type { MomentCommentView, MomentLike } from '@parley/client';

/** "♥ Alice, Bob": who liked the post (only the viewer's friends and the author, as the SDK hands them). */
export function LikesLine(props: { likes: readonly MomentLike[] }) {
  const people = usePeople();
  if (props.likes.length === 0) return null;
  const names = props.likes.map((l) => people.name(l.author.userId, l.author.username)).join(', ');
  return (
    <p className="moment-likes" dir="auto">
      <span aria-hidden="true">♥ </span>
      <span className="sr-only">Liked by </span>
      {names}
    </p>
  );
}

/**
 * The comments the viewer may see, oldest first. A reply names the comment
 * it answers by its author; one that answers a comment not on this device
 * (from someone who is not the viewer's friend) says "replied to a comment",
 * never whose. A click on someone else's comment replies to it; own comments
 * can be deleted. No button here has "comment" in its name: the post's
 * "Comment" button is found by that word.
 */
export function CommentList(props: { comments: readonly MomentCommentView[]; onReply: (c: MomentCommentView) => void; onDelete: (c: MomentCommentView) => void }) {
  const people = usePeople();
  if (props.comments.length === 0) return null;
  return (
    <ul className="moment-comments" aria-label="Comments">
      {props.comments.map((c) => {
        const who = people.name(c.author.userId, c.author.username);
        const to = c.replyTo === null ? null : c.replyTo.author === null ? null : people.name(c.replyTo.author.userId, c.replyTo.author.username);
        const body = (
          <>
            <span className="moment-comment-author">{who}</span>
            {c.replyTo !== null && (to !== null ? <> replied to <span className="moment-comment-author">{to}</span></> : <> replied to a comment</>)}
            {': '}
            <span className="moment-comment-text">{c.text}</span>
          </>
        );
        return (
          <li key={c.id} className="moment-comment">
            {/* A click on someone else's comment replies to it (the Reply button does the same for the keyboard). */}
            <p className={`moment-comment-body${c.mine ? '' : ' moment-comment-reply'}`} dir="auto" onClick={c.mine ? undefined : () => props.onReply(c)}>
              {body}
            </p>
            {c.mine ? (
              <button type="button" className="icon-button small" aria-label={`Delete “${c.text}”`} title="Delete" onClick={() => props.onDelete(c)}>
                <Icon name="trash" size={15} />
              </button>
            ) : (
              <button type="button" className="icon-button small" aria-label={`Reply to ${who}`} title={`Reply to ${who}`} onClick={() => props.onReply(c)}>
                <Icon name="reply" size={15} />
              </button>
            )}
          </li>
        );
      })}
    </ul>
  );
}
