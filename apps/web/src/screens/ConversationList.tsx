import { useRef, useState } from 'react';
import type { ConversationSummary, GroupId, Message, ParleyClient, UserId } from '@parley/client';
import { usePeople } from '../app/people';
import { Avatar } from '../components/Avatar';
import { Icon } from '../components/Dialog';
import { Popover } from '../components/Popover';
import { describeError } from '../lib/errors';
import { PrefsItems } from './conversation/ConversationMenu';
import { conversationTitle, directMember, isDirect } from '../lib/conversation';
import { timerLine } from '../lib/disappearing';
import { formatDuration, formatListTime } from '../lib/format';
import { isNotice, noticePreview } from '../notices/notices';
import type { NameOf } from '../lib/people';

export function messagePreview(m: Message | null, me: UserId | undefined, group: boolean, nameOf?: NameOf): string {
  if (m === null) return 'No messages yet';
  // A notice is nobody's message: a short neutral line, no sender.
  if (isNotice(m)) return noticePreview(m.content.notice);
  const sender = nameOf !== undefined ? nameOf(m.sender.userId, m.sender.username) : (m.sender.username ?? 'Someone');
  const who = m.outgoing ? 'You: ' : group && m.sender.userId !== me ? `${sender}: ` : '';
  const c = m.content;
  if (c.type === 'text') return who + c.text.replace(/\s+/g, ' ').slice(0, 120);
  if (c.type === 'attachment') return who + (c.mimeType.startsWith('image/') ? `📷 ${c.caption ?? 'Photo'}` : `📎 ${c.fileName}`);
  if (c.type === 'deleted') return who + 'This message was deleted';
  if (c.type === 'voice') return `${who}🎤 Voice message (${formatDuration(c.durationMs)})`;
  if (c.type === 'settings') return timerLine(m.outgoing ? 'You' : sender, c.disappearAfterMs);
  return who + 'Message';
}

export function ConversationList(props: {
  client: ParleyClient;
  list: ConversationSummary[] | null;
  me: UserId | undefined;
  selected: GroupId | null;
  onSelect: (id: GroupId) => void;
}) {
  const [showArchived, setShowArchived] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (props.list === null) {
    return (
      <nav className="conversation-list" aria-label="Conversations" aria-busy="true">
        {[0, 1, 2, 3].map((i) => (
          <div key={i} className="conversation-skeleton" />
        ))}
      </nav>
    );
  }
  const archived = props.list.filter((c) => c.archived);
  const archivedView = showArchived && archived.length > 0;
  // Pinned first; otherwise the client's order (latest activity first).
  const shown = props.list.filter((c) => c.archived === archivedView).sort((a, b) => Number(b.pinned) - Number(a.pinned));
  return (
    <nav className="conversation-list" aria-label="Conversations">
      {archivedView ? (
        <button type="button" className="archived-entry" onClick={() => setShowArchived(false)}>
          <Icon name="back" size={18} /> Archived
          <span className="count">{archived.length}</span>
        </button>
      ) : (
        archived.length > 0 && (
          <button type="button" className="archived-entry" onClick={() => setShowArchived(true)}>
            <Icon name="archive" size={18} /> Archived
            <span className="count">{archived.length}</span>
          </button>
        )
      )}
      {error !== null && (
        <p className="banner" role="alert">
          {error}
        </p>
      )}
      {props.list.length === 0 && (
        <div className="empty-list">
          <p>No conversations yet.</p>
          <p className="muted">Start one with “New chat” — you need the other person’s username.</p>
        </div>
      )}
      <ul>
        {shown.map((c) => (
          <ConversationEntry
            key={c.id}
            client={props.client}
            conversation={c}
            me={props.me}
            selected={c.id === props.selected}
            onSelect={props.onSelect}
            onError={(err) => setError(describeError(err))}
          />
        ))}
      </ul>
    </nav>
  );
}

function ConversationEntry(props: {
  client: ParleyClient;
  conversation: ConversationSummary;
  me: UserId | undefined;
  selected: boolean;
  onSelect: (id: GroupId) => void;
  onError: (err: unknown) => void;
}) {
  const c = props.conversation;
  const menuButton = useRef<HTMLButtonElement>(null);
  const [menu, setMenu] = useState(false);
  const people = usePeople();
  const title = conversationTitle(c, props.me, people.name);
  const group = !isDirect(c);
  const peer = directMember(c, props.me);
  const inactive = c.status !== 'active';
  return (
    <li className={`conversation-entry${c.muted ? ' muted-conv' : ''}`}>
      <button
        type="button"
        className={`conversation-item${props.selected ? ' selected' : ''}${c.unread > 0 ? ' has-unread' : ''}`}
        aria-current={props.selected ? 'true' : undefined}
        onClick={() => props.onSelect(c.id)}
      >
        <Avatar name={title} group={group} picture={peer !== null ? people.pictureUrl(peer.userId) : null} />
        <span className="conversation-text">
          <span className="conversation-top">
            <span className="conversation-title" dir="auto">
              {title}
            </span>
            <span className="conversation-flags">
              {c.pinned && (
                <span title="Pinned">
                  <Icon name="pin" size={14} />
                  <span className="sr-only"> Pinned</span>
                </span>
              )}
              {c.muted && (
                <span title="Muted">
                  <Icon name="muted" size={14} />
                  <span className="sr-only"> Muted</span>
                </span>
              )}
            </span>
            <time className="conversation-time" dateTime={new Date(c.lastActivityAt).toISOString()}>
              {formatListTime(c.lastActivityAt)}
            </time>
          </span>
          <span className="conversation-bottom">
            <span className="conversation-preview" dir="auto">
              {inactive ? (c.status === 'left' ? 'You left' : c.status === 'rejoining' ? 'Rejoining…' : 'You were removed') : messagePreview(c.lastMessage, props.me, group, people.name)}
            </span>
            {c.unread > 0 && (
              <span className="badge">
                {c.unread > 99 ? '99+' : c.unread}
                <span className="sr-only"> unread</span>
              </span>
            )}
          </span>
        </span>
      </button>
      <button
        ref={menuButton}
        type="button"
        className="icon-button small conversation-menu-button"
        aria-label={`Options for ${title}`}
        aria-haspopup="menu"
        aria-expanded={menu}
        onClick={() => setMenu((m) => !m)}
      >
        <Icon name="more" size={18} />
      </button>
      {menu && (
        <Popover anchor={menuButton} onClose={() => setMenu(false)} role="menu" label={`Options for ${title}`} align="end">
          <PrefsItems client={props.client} conversation={c} onDone={() => setMenu(false)} onError={props.onError} />
        </Popover>
      )}
    </li>
  );
}
