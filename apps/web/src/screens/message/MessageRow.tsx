import { memo } from 'react';
import type { Message, ParleyClient } from '@parley/client';
import { usePeople } from '../../app/people';
import { Icon } from '../../components/Dialog';
import { formatFull, formatTime } from '../../lib/format';
import { DELETE_WINDOW_MS, EDIT_WINDOW_MS } from '../../lib/content-rules';
import { MessageActions } from './MessageActions';
import { MessageBody } from './MessageBody';
import { MessageStatus } from './MessageStatus';
import { ReactionChips } from './Reactions';
import { ReplyQuote } from './ReplyQuote';


/** What a person can do with a message; absent in a conversation that is read-only history. */
export interface MessageRowActions {
  onReply: (m: Message) => void;
  onReact: (m: Message, emoji: string | null) => void;
  onEdit: (m: Message) => void;
  onDelete: (m: Message) => void;
  /** Receipts of your own message (who read it). */
  onInfo: (m: Message) => void;
}

export function canEdit(m: Message, now = Date.now()): boolean {
  return m.outgoing && !m.deleted && (m.content.type === 'text' || m.content.type === 'attachment') && now - m.sentAt < EDIT_WINDOW_MS;
}

export function canDelete(m: Message, now = Date.now()): boolean {
  return m.outgoing && !m.deleted && now - m.sentAt < DELETE_WINDOW_MS;
}

/**
 * One message. Memoised: the list re-renders on every batch of new messages,
 * and a row whose message (kept the same object until it changes) and props
 * are unchanged renders nothing new.
 */
export const MessageRow = memo(function MessageRow(props: {
  client: ParleyClient;
  message: Message;
  showSender: boolean;
  tail: boolean;
  highlight: boolean;
  actions: MessageRowActions | null;
  onJump: (seq: number) => void;
  onOpenImage: (url: string, name: string) => void;
}) {
  const { message: m, showSender, tail, actions } = props;
  const at = m.outgoing ? m.sentAt : m.receivedAt;
  const image = m.content.type === 'attachment' && m.content.mimeType.startsWith('image/');
  const me = props.client.userId;
  const people = usePeople();
  const sender = people.name(m.sender.userId, m.sender.username);
  return (
    <article
      className={`message-row ${m.outgoing ? 'outgoing' : 'incoming'}${tail ? ' tail' : ''}${props.highlight ? ' highlight' : ''}`}
      aria-label={m.outgoing ? 'You' : sender}
      data-seq={m.seq}
      // Focusable by script only: a jump to this message (a search result) can move keyboard focus here.
      tabIndex={-1}
    >
      <div className="message-line">
        <div className={`bubble${image && m.replyTo === null ? ' bubble-media' : ''}`}>
          {showSender && (
            <span className="sender" dir="auto">
              {sender}
            </span>
          )}
          {m.replyTo !== null && !m.deleted && <ReplyQuote quote={m.replyTo} me={me} nameOf={people.name} onJump={props.onJump} />}
          <MessageBody client={props.client} message={m} onOpenImage={props.onOpenImage} />
          <span className="meta">
            {m.editedAt !== null && !m.deleted && (
              <span className="edited-label" title={`Edited ${formatFull(m.editedAt)}`}>
                edited
              </span>
            )}
            {m.expiresAt !== null && (
              <span className="timer-mark" title={`Disappears ${formatFull(m.expiresAt)}`}>
                <Icon name="timer" size={13} />
                <span className="sr-only">Disappearing message</span>
              </span>
            )}
            <time dateTime={new Date(at).toISOString()} title={formatFull(at)}>
              {formatTime(at)}
            </time>
            {m.outgoing && m.status !== null && <MessageStatus status={m.status} />}
          </span>
        </div>
        {actions !== null && !m.deleted && (
          <MessageActions
            outgoing={m.outgoing}
            onReply={() => actions.onReply(m)}
            onReact={(emoji) => actions.onReact(m, emoji)}
            {...(canEdit(m) ? { onEdit: () => actions.onEdit(m) } : {})}
            {...(canDelete(m) ? { onDelete: () => actions.onDelete(m) } : {})}
            {...(m.outgoing ? { onInfo: () => actions.onInfo(m) } : {})}
          />
        )}
      </div>
      {!m.deleted && <ReactionChips reactions={m.reactions} me={me} nameOf={people.name} onReact={actions === null ? null : (emoji) => actions.onReact(m, emoji)} />}
    </article>
  );
});

/** The whole text an edit starts from: a text message's text or an attachment's caption. */
export function editableText(m: Message): string {
  const c = m.content;
  return c.type === 'text' ? c.text : c.type === 'attachment' ? (c.caption ?? '') : '';
}

/** The text shown for a message in a quote, a dialog or a list. */
export function messageSnippet(m: Message): string {
  const c = m.content;
  if (m.deleted || c.type === 'deleted') return 'This message was deleted';
  if (c.type === 'text') return c.text.slice(0, 200);
  if (c.type === 'attachment') return c.caption !== undefined && c.caption !== '' ? c.caption.slice(0, 200) : c.mimeType.startsWith('image/') ? 'Photo' : c.fileName;
  if (c.type === 'voice') return 'Voice message';
  return '';
}
