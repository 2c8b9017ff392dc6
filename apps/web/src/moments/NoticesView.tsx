import { useEffect } from 'react';
import type { MomentNotice, ParleyClient } from '@parley/client';
import { usePeople } from '../app/people';
import { PersonAvatar } from '../components/Avatar';
import { useNotices } from './hooks';
import { timeAgo } from './format';

function what(n: MomentNotice): string {
  return n.kind === 'like' ? 'liked your post' : n.kind === 'comment' ? 'commented on your post' : 'replied to your comment';
}

/**
 * Likes and comments on this user's posts and replies to their comments,
 * newest first. Showing them marks them seen (the badge goes), and so does
 * each one that arrives while they show.
 */
export function NoticesView(props: { client: ParleyClient; onOpenPost: (postId: string) => void }) {
  const { client } = props;
  const { notices, error } = useNotices(client);
  const people = usePeople();
  const unseen = notices?.some((n) => !n.seen) ?? false;
  useEffect(() => {
    if (unseen) void client.moments.markSeen().catch(() => undefined);
  }, [client, unseen, notices]);
  return (
    <div className="moment-scroll">
      <div className="moment-feed">
        {error !== null && (
          <p className="banner" role="alert">
            {error}
          </p>
        )}
        {notices === null ? (
          <div className="moment-loading" aria-busy="true">
            <span className="spinner" aria-label="Loading notices" />
          </div>
        ) : notices.length === 0 ? (
          <div className="empty-list">
            <p>No notices yet.</p>
            <p className="muted">Likes and comments on your posts, and replies to your comments, show here.</p>
          </div>
        ) : (
          <ul className="moment-notices" aria-label="Notices">
            {notices.map((n) => {
              const who = people.name(n.from.userId, n.from.username);
              return (
                <li key={n.id}>
                  <button type="button" className={`moment-notice${n.seen ? '' : ' unseen'}`} onClick={() => props.onOpenPost(n.postId)}>
                    <PersonAvatar userId={n.from.userId} username={n.from.username} size="sm" />
                    <span className="moment-notice-text" dir="auto">
                      <strong>{who}</strong> {what(n)}
                      {n.text !== null && <span className="moment-notice-quote">: {n.text}</span>}
                    </span>
                    <time className="muted small" dateTime={new Date(n.at).toISOString()}>
                      {timeAgo(n.at)}
                    </time>
                  </button>
                </li>
              );
            })}
          </ul>
        )}
      </div>
    </div>
  );
}
