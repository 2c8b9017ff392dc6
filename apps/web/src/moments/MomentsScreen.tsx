import { useCallback, useEffect, useMemo, useState, type ReactNode } from 'react';
import type { MomentPerson, MomentPost, ParleyClient, UserId } from '@parley/client';
import { usePeople } from '../app/people';
import { PersonAvatar } from '../components/Avatar';
import { Icon } from '../components/Dialog';
import { DeletePostDialog } from './DeletePostDialog';
import { FeedView } from './Feed';
import { useFeed, useLists, useMomentsEvent, useUnseenCount, type FeedSource } from './hooks';
import { NewPostDialog } from './NewPostDialog';
import { NoticesView } from './NoticesView';
import { PhotoViewer } from './PhotoViewer';
import { PostCard, type PostActions } from './PostCard';
import { MomentsSettingsDialog } from './SettingsDialog';
import './moments.css';
import './moments-dialogs.css';

type View = { kind: 'timeline' } | { kind: 'person'; person: MomentPerson } | { kind: 'notices' } | { kind: 'post'; postId: string };

type Open = { kind: 'new-post' } | { kind: 'settings' } | { kind: 'photo'; post: MomentPost; index: number } | { kind: 'delete'; post: MomentPost } | null;

/**
 * The Moments tab: the timeline of this user's and their friends' posts, a
 * person's page, the notices, and the composer and settings dialogs.
 */
export function MomentsScreen(props: { client: ParleyClient; onBack: () => void }) {
  const { client } = props;
  const [view, setView] = useState<View>({ kind: 'timeline' });
  const [open, setOpen] = useState<Open>(null);
  const people = usePeople();
  const lists = useLists(client);
  const unseen = useUnseenCount(client);

  const openPerson = useCallback(
    (userId: UserId, username: string | null = null) => setView({ kind: 'person', person: { userId, username } }),
    [],
  );
  const actions = useMemo<PostActions>(
    () => ({
      onOpenPerson: (userId) => openPerson(userId),
      onOpenPhoto: (post, index) => setOpen({ kind: 'photo', post, index }),
      onDelete: (post) => setOpen({ kind: 'delete', post }),
    }),
    [openPerson],
  );

  const me = client.userId;
  const title = view.kind === 'person' ? people.name(view.person.userId, view.person.username) : view.kind === 'notices' ? 'Notices' : view.kind === 'post' ? 'Post' : 'Moments';
  const sub = view.kind !== 'timeline';
  return (
    <section className="moments-view" aria-labelledby="moments-title">
      <header className="conversation-header moments-header">
        <button type="button" className={`icon-button${sub ? '' : ' back-button'}`} aria-label={sub ? 'Back to timeline' : 'Back'} onClick={() => (sub ? setView({ kind: 'timeline' }) : props.onBack())}>
          <Icon name="back" />
        </button>
        <div className="conversation-heading">
          <h2 id="moments-title" dir="auto">
            {title}
          </h2>
        </div>
        <button type="button" className="icon-button moments-notices-button" aria-pressed={view.kind === 'notices'} aria-label={unseen > 0 ? `Notices, ${unseen} new` : 'Notices'} onClick={() => setView({ kind: 'notices' })}>
          <Icon name="inbox" />
          {unseen > 0 && <span className="moments-dot">{unseen > 99 ? '99+' : unseen}</span>}
        </button>
        {me !== undefined && (
          <button type="button" className="icon-button" aria-label="My page" title="My page" onClick={() => openPerson(me, client.username ?? null)}>
            <PersonAvatar userId={me} username={client.username ?? null} size="sm" />
          </button>
        )}
        <button type="button" className="icon-button" aria-label="Visibility and lists" title="Visibility and lists" onClick={() => setOpen({ kind: 'settings' })}>
          <Icon name="settings" />
        </button>
        {open?.kind !== 'new-post' && (
          <button type="button" className="button primary" onClick={() => setOpen({ kind: 'new-post' })}>
            <Icon name="plus" size={18} /> <span className="moments-new-label">New post</span>
          </button>
        )}
      </header>
      {view.kind === 'timeline' && <Timeline client={client} source={{ kind: 'timeline' }} lists={lists} actions={actions} label="Timeline" />}
      {view.kind === 'person' && (
        <Timeline
          key={view.person.userId}
          client={client}
          source={{ kind: 'user', userId: view.person.userId }}
          lists={lists}
          actions={actions}
          label={`Posts by ${title}`}
          header={
            <div className="moment-person">
              <PersonAvatar userId={view.person.userId} username={view.person.username} size="lg" />
              <div>
                <h3 dir="auto">{title}</h3>
                {view.person.username !== null && view.person.username !== title && <p className="muted small">{view.person.username}</p>}
              </div>
            </div>
          }
        />
      )}
      {view.kind === 'notices' && <NoticesView client={client} onOpenPost={(postId) => setView({ kind: 'post', postId })} />}
      {view.kind === 'post' && <SinglePost key={view.postId} client={client} postId={view.postId} lists={lists} actions={actions} />}

      {open?.kind === 'new-post' && (
        <NewPostDialog
          client={client}
          onClose={() => setOpen(null)}
          onPosted={() => {
            setOpen(null);
            if (view.kind !== 'timeline') setView({ kind: 'timeline' });
          }}
        />
      )}
      {open?.kind === 'settings' && <MomentsSettingsDialog client={client} onClose={() => setOpen(null)} />}
      {open?.kind === 'photo' && (
        <PhotoViewer client={client} post={open.post} index={open.index} author={people.name(open.post.author.userId, open.post.author.username)} onClose={() => setOpen(null)} />
      )}
      {open?.kind === 'delete' && <DeletePostDialog client={client} post={open.post} onClose={() => setOpen(null)} />}
    </section>
  );
}

function Timeline(props: { client: ParleyClient; source: FeedSource; lists: ReturnType<typeof useLists>; actions: PostActions; label: string; header?: ReactNode }) {
  const feed = useFeed(props.client, props.source);
  return (
    <FeedView
      client={props.client}
      feed={feed}
      lists={props.lists}
      actions={props.actions}
      label={props.label}
      {...(props.header !== undefined ? { header: props.header } : {})}
      empty={
        props.source.kind === 'timeline' ? (
          <>
            <p>No posts yet.</p>
            <p className="muted">Your posts and your friends’ show here. Friends are contacts who have you in their contacts too.</p>
          </>
        ) : (
          <p className="muted">No posts to show.</p>
        )
      }
    />
  );
}

/** One post opened from a notice; gone when it was deleted. */
function SinglePost(props: { client: ParleyClient; postId: string; lists: ReturnType<typeof useLists>; actions: PostActions }) {
  const { client, postId } = props;
  const [post, setPost] = useState<MomentPost | null | undefined>(undefined);
  const load = useCallback(() => {
    client.moments
      .get(postId)
      .then(setPost, () => setPost(null));
  }, [client, postId]);
  useEffect(load, [load]);
  useMomentsEvent(client, (e) => {
    if (e.postId === undefined || e.postId === postId) load();
  });
  return (
    <div className="moment-scroll">
      <div className="moment-feed">
        {post === undefined ? (
          <div className="moment-loading" aria-busy="true">
            <span className="spinner" aria-label="Loading post" />
          </div>
        ) : post === null ? (
          <div className="empty-list">
            <p className="muted">This post is no longer there.</p>
          </div>
        ) : (
          <PostCard client={client} post={post} lists={props.lists} actions={props.actions} />
        )}
      </div>
    </div>
  );
}
