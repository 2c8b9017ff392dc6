import { useCallback, useEffect, useRef, useState, type DragEvent } from 'react';
import { ClientError, type AttachmentInput, type Conversation, type Message, type ParleyClient } from '@parley/client';
import { Avatar } from '../components/Avatar';
import { Icon } from '../components/Dialog';
import { useClientEvent } from '../app/session';
import { usePageVisible } from '../app/hooks';
import { conversationTitle, directPeer, isDirect } from '../lib/conversation';
import { describeError } from '../lib/errors';
import { formatBytes } from '../lib/format';
import { isNotice, messageKey } from '../notices/notices';
import { SafetyNumberChangedDialog, changedUsers } from '../notices/SafetyNumberChangedDialog';
import { Composer, MAX_ATTACHMENT_BYTES, stageFiles, type StagedFile } from './Composer';
import { MessageList, type PendingMessage } from './MessageList';

const PAGE = 60;

function insertSorted(list: readonly Message[], m: Message): Message[] {
  if (list.length === 0 || (list[list.length - 1] as Message).seq < m.seq) return [...list, m];
  // Notices share the seq of the commit that caused them, so identity is the key, not the seq.
  const key = messageKey(m);
  if (list.some((x) => x.seq === m.seq && messageKey(x) === key)) return list as Message[];
  return [...list, m].sort((a, b) => a.seq - b.seq);
}

export function ConversationView(props: {
  client: ParleyClient;
  conversation: Conversation;
  onBack: () => void;
  onOpenInfo: () => void;
  onOpenImage: (url: string, name: string) => void;
  onOpenContact: (username: string) => void;
}) {
  const { client, conversation: conv } = props;
  const id = conv.id;
  const [messages, setMessages] = useState<Message[] | null>(null);
  const [hasOlder, setHasOlder] = useState(false);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [pending, setPending] = useState<PendingMessage[]>([]);
  const [staged, setStaged] = useState<StagedFile[]>([]);
  const [composerError, setComposerError] = useState<string | null>(null);
  const [dragging, setDragging] = useState(false);
  const [verified, setVerified] = useState(false);
  // Bumped by every notice here: a safety number changed, so "verified" is looked up again.
  const [noticeCount, setNoticeCount] = useState(0);
  // Messages held back because a verified contact's safety number changed, and whose.
  const [held, setHeld] = useState<{ localIds: readonly string[]; users: readonly string[] } | null>(null);
  const atBottom = useRef(true);
  const visible = usePageVisible();
  const peer = directPeer(conv, client.userId);
  const title = conversationTitle(conv, client.userId);
  const active = conv.status === 'active';

  // Load the newest page whenever another conversation is opened.
  useEffect(() => {
    let live = true;
    setMessages(null);
    setPending([]);
    setStaged([]);
    setComposerError(null);
    client.messages(id, { beforeSeq: Number.MAX_SAFE_INTEGER, limit: PAGE }).then(
      (page) => {
        if (!live) return;
        setMessages(page);
        setHasOlder(page.length === PAGE);
      },
      () => live && setMessages([]),
    );
    return () => {
      live = false;
    };
  }, [client, id]);

  useEffect(() => {
    let live = true;
    setVerified(false);
    if (peer !== null) client.verification(peer).then((v) => live && setVerified(v.verified), () => undefined);
    return () => {
      live = false;
    };
  }, [client, peer, conv.members, noticeCount]);

  useClientEvent(client, 'message', (m) => {
    if (m.conversationId !== id) return;
    if (isNotice(m)) setNoticeCount((n) => n + 1);
    setMessages((list) => (list === null ? list : insertSorted(list, m)));
  });

  const loadOlder = useCallback(() => {
    const first = messages?.[0];
    if (first === undefined || loadingOlder) return;
    setLoadingOlder(true);
    client.messages(id, { beforeSeq: first.seq, limit: PAGE }).then(
      (page) => {
        setMessages((list) => {
          if (list === null) return page;
          const have = new Set(list.map(messageKey));
          return [...page.filter((p) => p.seq <= (list[0]?.seq ?? Infinity) && !have.has(messageKey(p))), ...list];
        });
        setHasOlder(page.length === PAGE);
        setLoadingOlder(false);
      },
      () => setLoadingOlder(false),
    );
  }, [client, id, messages, loadingOlder]);

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
      client.send(id, p.input, confirmSafetyNumberChange ? { confirmSafetyNumberChange: true } : {}).then(
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
          const error = err instanceof ClientError && err.code === 'disconnected' && !safe ? 'The connection dropped: it may have been sent.' : describeError(err);
          setPending((list) => list.map((x) => (x.localId === p.localId ? { ...x, state: 'failed', error, autoRetry: safe } : x)));
        },
      );
    },
    [client, id],
  );

  async function send(text: string) {
    setComposerError(null);
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
      items.push({ localId: crypto.randomUUID(), input, previewUrl: f.previewUrl, createdAt: now, state: 'sending' });
    }
    if (files.length === 0 && text !== '') items.push({ localId: crypto.randomUUID(), input: text, previewUrl: null, createdAt: now, state: 'sending' });
    setPending((list) => [...list, ...items]);
    for (const p of items) dispatch(p);
  }

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

  const subtitle = isDirect(conv) ? (verified ? 'Verified · end-to-end encrypted' : 'End-to-end encrypted') : `${conv.members.length} members · end-to-end encrypted`;

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
        <Avatar name={title} group={!isDirect(conv)} />
        <div className="conversation-heading">
          <h2 dir="auto">{title}</h2>
          <p className="muted small">
            {verified && <Icon name="checkShield" size={13} />}
            {!verified && <Icon name="lock" size={13} />} {subtitle}
          </p>
        </div>
        <button type="button" className="icon-button" aria-label="Conversation info" onClick={props.onOpenInfo}>
          <Icon name="info" />
        </button>
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
          header={
            !hasOlder ? (
              <div className="e2ee-notice">
                <Icon name="lock" size={14} /> Messages here are end-to-end encrypted. The server only passes them on; it cannot read them.
              </div>
            ) : null
          }
        />
      )}

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
        />
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

      {dragging && (
        <div className="drop-overlay" aria-hidden="true">
          <Icon name="attach" size={32} />
          Drop files to send them to {title}
        </div>
      )}
    </section>
  );
}
