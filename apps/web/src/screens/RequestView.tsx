import { useCallback, useEffect, useRef, useState } from 'react';
import type { Conversation, ConversationMember, ParleyClient, UserId } from '@parley/client';
import { usePeople } from '../app/people';
import { Avatar } from '../components/Avatar';
import { Dialog, Icon } from '../components/Dialog';
import { FormError } from '../components/FormError';
import { conversationTitle, isDirect, otherMembers } from '../lib/conversation';
import { describeError } from '../lib/errors';
import type { MessageTarget } from '../app/hooks';
import { useMessages } from './conversation/useMessages';
import { useRouteTarget } from './conversation/useSearchJumps';
import { MessageList } from './MessageList';

/** Who started a request: the inviter, else (a 1:1 chat) the other person. */
export function requester(conv: Conversation, me: UserId | undefined): ConversationMember | null {
  if (conv.invitedBy !== null) return conv.members.find((m) => m.userId === conv.invitedBy) ?? null;
  return isDirect(conv) ? (otherMembers(conv, me)[0] ?? null) : null;
}

/**
 * A message request, opened from "Requests": the sender's username (who they
 * are for the server and the safety number) under any name they gave
 * themselves, their messages read-only, and Accept, Delete or Block. Until
 * it is accepted the sender learns nothing: the client sends no read
 * receipts, no typing and no profile key for a pending request.
 */
export function RequestView(props: {
  client: ParleyClient;
  conversation: Conversation;
  onBack: () => void;
  /** Accepted: it is an ordinary conversation now. */
  onAccepted: () => void;
  /** Deleted or blocked: gone from this device. */
  onGone: () => void;
  onOpenImage: (url: string, name: string) => void;
  onOpenContact: (username: string) => void;
  /** A message to jump to and highlight (a search result in the list, `#/c/<id>/m/<seq>`). */
  target?: MessageTarget | null;
}) {
  const { client, conversation: conv } = props;
  const id = conv.id;
  const people = usePeople();
  const target = props.target ?? null;
  const { messages, hasOlder, loadingOlder, loadOlder, hasNewer, loadingNewer, loadNewer, showLatest, reveal } = useMessages(client, id, target?.seq ?? null);
  const [focus, setFocus] = useState<{ seq: number; token: number; moveFocus?: boolean } | null>(null);
  const [busy, setBusy] = useState<'accept' | 'delete' | 'block' | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [confirmBlock, setConfirmBlock] = useState(false);
  // A search result or a link: load the history around the message, then scroll to it (as in a conversation).
  const jump = useCallback(
    (seq: number, moveFocus = false) => {
      void reveal(seq).then(
        (found) => {
          if (found) setFocus((f) => ({ seq, token: (f?.token ?? 0) + 1, moveFocus }));
          else setError('That message is no longer on this device.');
        },
        (err: unknown) => setError(describeError(err)),
      );
    },
    [reveal],
  );
  useRouteTarget(target, messages !== null, jump);
  const atBottom = useRef(true);
  const from = requester(conv, client.userId);
  const username = from?.username ?? null;
  const name = from !== null ? people.name(from.userId, from.username) : 'Someone';
  const group = !isDirect(conv);
  const title = group ? conversationTitle(conv, client.userId, people.name) : name;

  // Reading a request clears its unread count on this device; the client sends the sender no receipt for it.
  const last = messages?.[messages.length - 1]?.seq;
  const markRead = useCallback(() => {
    if (last !== undefined && atBottom.current && document.visibilityState === 'visible') void client.markRead(id, last).catch(() => undefined);
  }, [client, id, last]);
  useEffect(markRead, [markRead]);
  const onAtBottom = useCallback(
    (b: boolean) => {
      atBottom.current = b;
      if (b) markRead();
    },
    [markRead],
  );

  async function run(action: 'accept' | 'delete' | 'block') {
    setBusy(action);
    setError(null);
    try {
      if (action === 'accept') {
        await client.requests.accept(id);
        props.onAccepted();
      } else {
        await (action === 'delete' ? client.requests.delete(id) : client.requests.block(id));
        props.onGone();
      }
    } catch (err) {
      setError(describeError(err));
      setBusy(null);
    }
  }

  return (
    <section className="conversation-view request-view" aria-label={`Request from ${name}`}>
      <header className="conversation-header">
        <button type="button" className="icon-button back-button" aria-label="Back" onClick={props.onBack}>
          <Icon name="back" />
        </button>
        <Avatar name={title} group={group} picture={!group && from !== null ? people.pictureUrl(from.userId) : null} />
        <div className="conversation-heading">
          <h2 dir="auto">{title}</h2>
          <p className="muted small">
            Message request{username !== null && (
              <>
                {' from '}
                <span className="request-username" dir="auto">
                  {username}
                </span>
              </>
            )}
          </p>
        </div>
      </header>

      {messages === null ? (
        <div className="message-scroll loading">
          <span className="spinner" aria-label="Loading messages" />
        </div>
      ) : (
        <MessageList
          client={client}
          conversationKey={id}
          messages={messages}
          pending={[]}
          group={group}
          hasOlder={hasOlder}
          loadingOlder={loadingOlder}
          onLoadOlder={loadOlder}
          onRetry={() => undefined}
          onDiscard={() => undefined}
          onAtBottom={onAtBottom}
          onOpenImage={props.onOpenImage}
          onOpenContact={props.onOpenContact}
          actions={null}
          onJump={jump}
          focus={focus}
          hasNewer={hasNewer}
          loadingNewer={loadingNewer}
          onLoadNewer={loadNewer}
          onShowLatest={() => void showLatest().catch(() => undefined)}
          header={
            <div className="e2ee-notice request-notice">
              <Icon name="alert" size={14} />
              <span>
                {group ? `${name} (${username ?? 'unknown username'}) added you to this group.` : `${name} (${username ?? 'unknown username'}) is not in your contacts.`} They do
                not know whether this reached you or whether you read it: no receipts, no typing and no profile reach them until you accept.
              </span>
            </div>
          }
        />
      )}

      <div className="request-actions" role="group" aria-label="Answer the request">
        <p className="small">
          Accept to reply{group ? ' in this group' : ''}. They become a contact and can see your name and picture.
        </p>
        <FormError message={error} />
        <div className="dialog-actions inline">
          <button type="button" className="button danger" disabled={busy !== null} onClick={() => setConfirmBlock(true)}>
            Block
          </button>
          <button type="button" className="button" disabled={busy !== null} onClick={() => void run('delete')}>
            {busy === 'delete' ? 'Deleting…' : 'Delete'}
          </button>
          <button type="button" className="button primary" disabled={busy !== null} onClick={() => void run('accept')}>
            {busy === 'accept' ? 'Accepting…' : 'Accept'}
          </button>
        </div>
      </div>

      {confirmBlock && (
        <Dialog title={`Block ${name}?`} onClose={() => setConfirmBlock(false)}>
          <div className="stack">
            <p>
              {name}
              {username !== null && username !== name ? ` (${username})` : ''} will not be able to message you or add you to groups. They are not told. This request is deleted.
            </p>
            <p className="muted small">You can unblock them in Settings.</p>
            <div className="dialog-actions inline">
              <button type="button" className="button" onClick={() => setConfirmBlock(false)} disabled={busy !== null}>
                Cancel
              </button>
              <button type="button" className="button danger" disabled={busy !== null} onClick={() => void run('block')}>
                {busy === 'block' ? 'Blocking…' : 'Block'}
              </button>
            </div>
          </div>
        </Dialog>
      )}
    </section>
  );
}
