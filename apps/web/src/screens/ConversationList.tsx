import type { ConversationSummary, GroupId, Message, UserId } from '@parley/client';
import { Avatar } from '../components/Avatar';
import { conversationTitle, isDirect } from '../lib/conversation';
import { formatListTime } from '../lib/format';
import { isNotice, noticePreview } from '../notices/notices';

export function messagePreview(m: Message | null, me: UserId | undefined, group: boolean): string {
  if (m === null) return 'No messages yet';
  // A notice is nobody's message: a short neutral line, no sender.
  if (isNotice(m)) return noticePreview(m.content.notice);
  const who = m.outgoing ? 'You: ' : group && m.sender.userId !== me ? `${m.sender.username ?? 'Someone'}: ` : '';
  const c = m.content;
  if (c.type === 'text') return who + c.text.replace(/\s+/g, ' ').slice(0, 120);
  if (c.type === 'attachment') return who + (c.mimeType.startsWith('image/') ? `📷 ${c.caption ?? 'Photo'}` : `📎 ${c.fileName}`);
  return who + 'Message';
}

export function ConversationList(props: {
  list: ConversationSummary[] | null;
  me: UserId | undefined;
  selected: GroupId | null;
  onSelect: (id: GroupId) => void;
}) {
  if (props.list === null) {
    return (
      <nav className="conversation-list" aria-label="Conversations" aria-busy="true">
        {[0, 1, 2, 3].map((i) => (
          <div key={i} className="conversation-skeleton" />
        ))}
      </nav>
    );
  }
  return (
    <nav className="conversation-list" aria-label="Conversations">
      {props.list.length === 0 && (
        <div className="empty-list">
          <p>No conversations yet.</p>
          <p className="muted">Start one with “New chat” — you need the other person’s username.</p>
        </div>
      )}
      <ul>
        {props.list.map((c) => {
          const title = conversationTitle(c, props.me);
          const group = !isDirect(c);
          const inactive = c.status !== 'active';
          return (
            <li key={c.id}>
              <button
                type="button"
                className={`conversation-item${c.id === props.selected ? ' selected' : ''}${c.unread > 0 ? ' has-unread' : ''}`}
                aria-current={c.id === props.selected ? 'true' : undefined}
                onClick={() => props.onSelect(c.id)}
              >
                <Avatar name={title} group={group} />
                <span className="conversation-text">
                  <span className="conversation-top">
                    <span className="conversation-title" dir="auto">
                      {title}
                    </span>
                    <time className="conversation-time" dateTime={new Date(c.lastActivityAt).toISOString()}>
                      {formatListTime(c.lastActivityAt)}
                    </time>
                  </span>
                  <span className="conversation-bottom">
                    <span className="conversation-preview" dir="auto">
                      {inactive ? (c.status === 'left' ? 'You left' : 'You were removed') : messagePreview(c.lastMessage, props.me, group)}
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
            </li>
          );
        })}
      </ul>
    </nav>
  );
}
