import { useCallback, useEffect, useMemo, useRef, useState, type DragEvent } from 'react';
import { ClientError, type AttachmentInput, type Conversation, type Message, type ParleyClient } from '@parley/client';
import { Avatar } from '../components/Avatar';
import { Icon } from '../components/Dialog';
import { usePeople } from '../app/people';
import { useClientEvent } from '../app/session';
import { usePageVisible, type MessageTarget } from '../app/hooks';
import { DeleteMessageDialog } from '../dialogs/DeleteMessageDialog';
import { MessageInfoDialog } from '../dialogs/MessageInfoDialog';
import { conversationTitle, directMember, directPeer, isDirect } from '../lib/conversation';
import type { NameOf } from '../lib/people';
import { describeError } from '../lib/errors';
import { timerLabel } from '../lib/disappearing';
import { formatBytes } from '../lib/format';
import { isNotice } from '../notices/notices';
import { ConversationSearch } from '../search/ConversationSearch';
import { SafetyNumberChangedDialog, changedUsers } from '../notices/SafetyNumberChangedDialog';
import { ConversationMenu } from './conversation/ConversationMenu';
import { Composer, MAX_ATTACHMENT_BYTES, stageFiles, type ComposerContext, type StagedFile } from './Composer';
import { useMessages } from './conversation/useMessages';
import { RejoiningBanner } from './conversation/RejoiningBanner';
import { useRouteTarget, useSearchPanel } from './conversation/useSearchJumps';
import { editableText, messageSnippet, type MessageRowActions } from './message/MessageRow';
import { TypingIndicator } from './message/TypingIndicator';
import type { Recording } from './message/voice-recording';
import { MessageList, type PendingMessage } from './MessageList';

/** How long the verified mark waits for a backlog to come in before it is looked up anyway. */
const VERIFY_WAIT_MS = 10_000;

/** Runs `fn` when the page is idle (at most a second later); returns a cancel. */
function whenIdle(fn: () => void): () => void {
  if (typeof requestIdleCallback === 'function') {
    const handle = requestIdleCallback(fn, { timeout: 1000 });
    return () => cancelIdleCallback(handle);
  }
  const handle = setTimeout(fn, 0);
  return () => clearTimeout(handle);
}

/** Who wrote a message, as the reply bar names them. */
function senderName(m: Message, nameOf: NameOf): string {
  return m.outgoing ? 'yourself' : nameOf(m.sender.userId, m.sender.username);
}

export function ConversationView(props: {
  client: ParleyClient;
  conversation: Conversation;
  onBack: () => void;
  onOpenInfo: () => void;
  onOpenImage: (url: string, name: string) => void;
  onOpenContact: (username: string) => void;
  /** A message to jump to and highlight (`#/c/<id>/m/<seq>`, a search result in the list). */
  target?: MessageTarget | null;
}) {
  const { client, conversation: conv } = props;
  const id = conv.id;
  const target = props.target ?? null;
  const { messages, hasOlder, loadingOlder, loadOlder, hasNewer, loadingNewer, loadNewer, showLatest, reveal } = useMessages(client, id, target?.seq ?? null);
  const { open: searchOpen, setOpen: setSearchOpen, focusRequest: searchFocus } = useSearchPanel();
  const searchButton = useRef<HTMLButtonElement>(null);
  const [pending, setPending] = useState<PendingMessage[]>([]);
  const [staged, setStaged] = useState<StagedFile[]>([]);
  const [composerError, setComposerError] = useState<string | null>(null);
  const [dragging, setDragging] = useState(false);
  const [verified, setVerified] = useState(false);
  // Bumped by every notice here: a safety number changed, so "verified" is looked up again.
  const [noticeCount, setNoticeCount] = useState(0);
  // Messages held back because a verified contact's safety number changed, and whose.
  const [held, setHeld] = useState<{ localIds: readonly string[]; users: readonly string[] } | null>(null);
  // A reply or an edit being written, the message being deleted or looked at, the quote being followed.
  const [context, setContext] = useState<{ mode: 'reply' | 'edit'; message: Message } | null>(null);
  const [deleting, setDeleting] = useState<Message | null>(null);
  const [info, setInfo] = useState<Message | null>(null);
  const [focus, setFocus] = useState<{ seq: number; token: number; moveFocus?: boolean } | null>(null);
  const atBottom = useRef(true);
  const visible = usePageVisible();
  const people = usePeople();
  const peer = directPeer(conv, client.userId);
  const peerMember = directMember(conv, client.userId);
  const title = conversationTitle(conv, client.userId, people.name);
  const active = conv.status === 'active';

  // Another conversation starts with nothing pending.
  useEffect(() => {
    setPending([]);
    setStaged([]);
    setComposerError(null);
    setContext(null);
  }, [id]);

  // Opening a conversation asks for its members' profiles: the SDK fetches one again if it was read more than a few
  // minutes ago (at most once a minute per person), so a new name or picture shows without a message per change.
  useEffect(() => {
    for (const m of conv.members) if (m.userId !== client.userId) void client.profiles.get(m.userId).catch(() => undefined);
    // Only when another conversation opens, not on every member-list update.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [client, id]);

  // The safety number (thousands of SHA-512 rounds) is worked out once a backlog is in (or the connection is down, or
  // after a while) and the page is idle: not in the way of a catch-up.
  useEffect(() => {
    let live = true;
    setVerified(false);
    if (peer === null) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let cancelIdle: (() => void) | undefined;
    let settle: () => void = () => undefined;
    const onConnection = (e: { state: string }) => {
      if (e.state === 'offline') settle();
    };
    const waited = new Promise<void>((resolve) => {
      settle = resolve;
      timer = setTimeout(resolve, VERIFY_WAIT_MS);
    });
    client.on('connection', onConnection);
    void Promise.race([client.whenSynced(), waited]).then(() => {
      if (!live) return;
      cancelIdle = whenIdle(() => {
        if (live) client.verification(peer).then((v) => live && setVerified(v.verified), () => undefined);
      });
    });
    return () => {
      live = false;
      clearTimeout(timer);
      client.off('connection', onConnection);
      cancelIdle?.();
    };
  }, [client, peer, conv.members, noticeCount]);

  useClientEvent(client, 'message', (m) => {
    if (m.conversationId !== id) return;
    if (isNotice(m)) setNoticeCount((n) => n + 1);
    // The message being edited or replied to changed (deleted, or edited on another device): follow it.
    setContext((c) => (c === null || c.message.seq !== m.seq || c.message.id !== m.id ? c : m.deleted ? null : { ...c, message: m }));
  });

  // A quote or a search result was clicked: load the history around the message (back to it, or a window far back), then scroll to it.
  const jump = useCallback(
    (seq: number, moveFocus = false) => {
      void reveal(seq).then(
        (found) => {
          if (found) setFocus((f) => ({ seq, token: (f?.token ?? 0) + 1, moveFocus }));
          // Expired, or not on this device (a link from elsewhere, a result shown before it went): said, not ignored.
          else setComposerError('That message is no longer on this device.');
        },
        (err: unknown) => setComposerError(describeError(err)),
      );
    },
    [reveal],
  );

  useRouteTarget(target, messages !== null, jump);

  const actions = useMemo<MessageRowActions>(
    () => ({
      onReply: (m) => setContext({ mode: 'reply', message: m }),
      onEdit: (m) => setContext({ mode: 'edit', message: m }),
      onDelete: (m) => setDeleting(m),
      onInfo: (m) => setInfo(m),
      onReact: (m, emoji) => {
        client.react(id, { seq: m.seq, id: m.id }, emoji).catch((err: unknown) => setComposerError(describeError(err)));
      },
    }),
    [client, id],
  );

  // Everything visible at the bottom of an open, visible conversation is read.
  const lastIncoming = messages?.[messages.length - 1]?.seq;
  const markRead = useCallback(() => {
    if (lastIncoming !== undefined && atBottom.current && document.visibilityState === 'visible') void client.markRead(id, lastIncoming).catch(() => undefined);
  }, [client, id, lastIncoming]);
  useEffect(markRead, [markRead, visible]);
  const onAtBottom = useCallback(
    (b: boolean) => {
      atBottom.current = b;
      if (b) markRead();
    },
    [markRead],
  );

  const dispatch = useCallback(
    (p: PendingMessage, confirmSafetyNumberChange = false) => {
      const options = {
        ...(confirmSafetyNumberChange ? { confirmSafetyNumberChange: true } : {}),
        ...(p.replyTo !== undefined ? { replyTo: p.replyTo } : {}),
        // A send whose reply was lost: the client matches the copy that came back instead of sending a second one.
        ...(p.contentId !== undefined ? { retryOf: p.contentId } : {}),
      };
      client.send(id, p.input, options).then(
        () => {
          setPending((list) => list.filter((x) => x.localId !== p.localId));
          if (p.previewUrl !== null) URL.revokeObjectURL(p.previewUrl);
        },
        (err: unknown) => {
          if (err instanceof ClientError && err.code === 'safety_number_changed') {
            // Nothing was sent: ask first, then send again with the user's go-ahead.
            const users = changedUsers(err);
            setHeld((h) => ({ localIds: [...(h?.localIds ?? []), p.localId], users: [...new Set([...(h?.users ?? []), ...users])] }));
            setPending((list) => list.map((x) => (x.localId === p.localId ? { ...x, state: 'failed', error: 'Not sent: a safety number changed.', autoRetry: false } : x)));
            return;
          }
          if (err instanceof ClientError && err.code === 'quota_exceeded') setComposerError(describeError(err));
          // "not_sent": nothing left the device, so trying again later is safe; otherwise the outcome is unknown.
          const safe = err instanceof ClientError && err.detail?.['delivery'] === 'not_sent';
          const lost = err instanceof ClientError && err.code === 'disconnected' && !safe;
          const error = lost ? 'The connection dropped before the server answered. Retry is safe: it will not send it twice.' : describeError(err);
          const contentId = lost && typeof err.detail?.['contentId'] === 'string' ? err.detail['contentId'] : p.contentId;
          setPending((list) => list.map((x) => (x.localId === p.localId ? { ...x, state: 'failed', error, autoRetry: safe, ...(contentId !== undefined ? { contentId } : {}) } : x)));
        },
      );
    },
    [client, id],
  );

  async function send(text: string) {
    setComposerError(null);
    // Writing from a window far back in the history: back to the newest messages, where this one will show.
    if (hasNewer) await showLatest().catch(() => undefined);
    if (context?.mode === 'edit') {
      const target = context.message;
      setContext(null);
      if (text === '' || text === editableText(target)) return;
      client.editMessage(id, { seq: target.seq, id: target.id }, text).catch((err: unknown) => setComposerError(describeError(err)));
      return;
    }
    const replyTo = context?.mode === 'reply' ? { seq: context.message.seq, id: context.message.id } : undefined;
    setContext(null);
    const files = staged;
    const tooBig = files.find((f) => f.file.size > MAX_ATTACHMENT_BYTES);
    if (tooBig !== undefined) {
      setComposerError(`${tooBig.file.name} is too large (${formatBytes(tooBig.file.size)}); the limit is ${formatBytes(MAX_ATTACHMENT_BYTES)}.`);
      return;
    }
    setStaged([]);
    const now = Date.now();
    const items: PendingMessage[] = [];
    for (const [i, f] of files.entries()) {
      const bytes = new Uint8Array(await f.file.arrayBuffer());
      const input: AttachmentInput = {
        attachment: bytes,
        mimeType: f.file.type || 'application/octet-stream',
        fileName: f.file.name || 'file',
        // The text goes with the last file as its caption.
        ...(i === files.length - 1 && text !== '' ? { caption: text } : {}),
      };
      items.push({ localId: crypto.randomUUID(), input, previewUrl: f.previewUrl, createdAt: now, state: 'sending', ...(i === 0 && replyTo !== undefined ? { replyTo } : {}) });
    }
    if (files.length === 0 && text !== '') items.push({ localId: crypto.randomUUID(), input: text, previewUrl: null, createdAt: now, state: 'sending', ...(replyTo !== undefined ? { replyTo } : {}) });
    setPending((list) => [...list, ...items]);
    for (const p of items) dispatch(p);
  }

  function sendVoice(r: Recording) {
    setComposerError(null);
    if (hasNewer) void showLatest().catch(() => undefined);
    const replyTo = context?.mode === 'reply' ? { seq: context.message.seq, id: context.message.id } : undefined;
    setContext(null);
    const p: PendingMessage = { localId: crypto.randomUUID(), input: r, previewUrl: null, createdAt: Date.now(), state: 'sending', ...(replyTo !== undefined ? { replyTo } : {}) };
    setPending((list) => [...list, p]);
    dispatch(p);
  }

  const onTyping = useCallback((typing: boolean) => void client.setTyping(id, typing).catch(() => undefined), [client, id]);

  const composerContext: ComposerContext | null =
    context === null
      ? null
      : {
          mode: context.mode,
          key: `${context.mode}:${context.message.seq}:${context.message.id}`,
          name: senderName(context.message, people.name),
          preview: messageSnippet(context.message),
          ...(context.mode === 'edit' ? { text: editableText(context.message) } : {}),
        };

  const retry = useCallback(
    (localId: string, confirmSafetyNumberChange = false) => {
      setPending((list) => {
        const p = list.find((x) => x.localId === localId);
        if (p !== undefined) queueMicrotask(() => dispatch(p, confirmSafetyNumberChange));
        return list.map((x) => (x.localId === localId ? { ...x, state: 'sending' as const } : x));
      });
    },
    [dispatch],
  );
  const discard = useCallback((localId: string) => setPending((list) => list.filter((x) => x.localId !== localId)), []);

  // When the connection comes back, failed sends are tried again once by themselves.
  useClientEvent(client, 'connection', (e) => {
    if (e.state === 'synced') for (const p of pending) if (p.state === 'failed' && p.autoRetry === true) retry(p.localId);
  });

  function onDrop(e: DragEvent) {
    e.preventDefault();
    setDragging(false);
    if (!active) return;
    const files = [...e.dataTransfer.files];
    if (files.length > 0) setStaged((s) => [...s, ...stageFiles(files)]);
  }

  // Under a display name or a nickname, the username (who this is for the server and the safety number).
  const handle = peer !== null && peer !== title ? `${peer} · ` : '';
  const subtitle = isDirect(conv) ? handle + (verified ? 'Verified · end-to-end encrypted' : 'End-to-end encrypted') : `${conv.members.length} members · end-to-end encrypted`;

  return (
    <section
      className="conversation-view"
      aria-label={title}
      onDragOver={(e) => {
        if (active && e.dataTransfer.types.includes('Files')) {
          e.preventDefault();
          setDragging(true);
        }
      }}
      onDragLeave={(e) => {
        if (e.currentTarget === e.target) setDragging(false);
      }}
      onDrop={onDrop}
    >
      <header className="conversation-header">
        <button type="button" className="icon-button back-button" aria-label="Back" onClick={props.onBack}>
          <Icon name="back" />
        </button>
        <Avatar name={title} group={!isDirect(conv)} picture={peerMember !== null ? people.pictureUrl(peerMember.userId) : null} />
        <div className="conversation-heading">
          <h2 dir="auto">{title}</h2>
          <p className="muted small">
            {verified && <Icon name="checkShield" size={13} />}
            {!verified && <Icon name="lock" size={13} />} {subtitle}
            {conv.disappearAfterMs !== null && (
              <span className="timer-mark" title="Disappearing messages">
                {' · '}
                <Icon name="timer" size={13} /> {timerLabel(conv.disappearAfterMs)}
              </span>
            )}
            {conv.muted && (
              <span className="timer-mark" title="Muted">
                {' · '}
                <Icon name="muted" size={13} /> Muted
              </span>
            )}
          </p>
        </div>
        <button
          ref={searchButton}
          type="button"
          className="icon-button"
          aria-label="Search in conversation"
          aria-expanded={searchOpen}
          onClick={() => setSearchOpen((o) => !o)}
        >
          <Icon name="search" />
        </button>
        <button type="button" className="icon-button" aria-label="Conversation info" onClick={props.onOpenInfo}>
          <Icon name="info" />
        </button>
        <ConversationMenu client={client} conversation={conv} onError={(err) => setComposerError(describeError(err))} />
      </header>

      {searchOpen && (
        <ConversationSearch
          client={client}
          conversation={conv}
          focusRequest={searchFocus}
          onJump={jump}
          onClose={() => {
            setSearchOpen(false);
            searchButton.current?.focus();
          }}
        />
      )}

      {messages === null ? (
        <div className="message-scroll loading">
          <span className="spinner" aria-label="Loading messages" />
        </div>
      ) : (
        <MessageList
          client={client}
          conversationKey={id}
          messages={messages}
          pending={pending}
          group={!isDirect(conv)}
          hasOlder={hasOlder}
          loadingOlder={loadingOlder}
          onLoadOlder={loadOlder}
          onRetry={retry}
          onDiscard={discard}
          onAtBottom={onAtBottom}
          onOpenImage={props.onOpenImage}
          onOpenContact={props.onOpenContact}
          actions={active ? actions : null}
          onJump={jump}
          focus={focus}
          hasNewer={hasNewer}
          loadingNewer={loadingNewer}
          onLoadNewer={loadNewer}
          onShowLatest={() => void showLatest().catch(() => undefined)}
          header={
            !hasOlder ? (
              <div className="e2ee-notice">
                <Icon name="lock" size={14} /> Messages here are end-to-end encrypted. The server only passes them on; it cannot read them.
              </div>
            ) : null
          }
        />
      )}

      <TypingIndicator client={client} conversationId={id} />

      {active ? (
        <Composer
          conversationKey={id}
          staged={staged}
          onStage={(files) => setStaged((s) => [...s, ...files])}
          onUnstage={(sid) =>
            setStaged((s) => {
              const gone = s.find((x) => x.id === sid);
              if (gone?.previewUrl != null) URL.revokeObjectURL(gone.previewUrl);
              return s.filter((x) => x.id !== sid);
            })
          }
          onSend={(text) => void send(text)}
          disabled={false}
          error={composerError}
          context={composerContext}
          onCancelContext={() => setContext(null)}
          onTyping={onTyping}
          onSendVoice={sendVoice}
          onVoiceError={setComposerError}
        />
      ) : conv.status === 'rejoining' ? (
        <RejoiningBanner />
      ) : (
        <div className="inactive-notice" role="note">
          {conv.status === 'left' ? 'You left this conversation' : 'You were removed from this conversation'}
          <span className="muted small">The history stays on this device.</span>
        </div>
      )}

      {held !== null && (
        <SafetyNumberChangedDialog
          users={held.users}
          count={held.localIds.length}
          onVerify={(username) => {
            setHeld(null);
            props.onOpenContact(username);
          }}
          onSendAnyway={() => {
            setHeld(null);
            for (const localId of held.localIds) retry(localId, true);
          }}
          onCancel={() => setHeld(null)}
        />
      )}

      {deleting !== null && (
        <DeleteMessageDialog
          preview={messageSnippet(deleting)}
          onConfirm={() => client.deleteForEveryone(id, { seq: deleting.seq, id: deleting.id })}
          onClose={() => setDeleting(null)}
        />
      )}

      {info !== null && <MessageInfoDialog client={client} conversationId={id} message={messages?.find((m) => m.seq === info.seq && m.id === info.id) ?? info} snippet={messageSnippet(info)} onClose={() => setInfo(null)} />}

      {dragging && (
        <div className="drop-overlay" aria-hidden="true">
          <Icon name="attach" size={32} />
          Drop files to send them to {title}
        </div>
      )}
    </section>
  );
}
