import type { ConversationSummary, GroupId, UserId } from '@parley/client';
import { usePeople } from '../app/people';
import { Avatar } from '../components/Avatar';
import { Icon } from '../components/Dialog';
import { conversationTitle, isDirect } from '../lib/conversation';
import { formatListTime } from '../lib/format';
import { messagePreview } from './ConversationList';
import { requester } from './RequestView';

/**
 * The sidebar's "Requests": conversations started by people who are not
 * contacts, each with the sender's username (and the name they gave
 * themselves, if any) and a preview of their latest message.
 */
export function RequestList(props: {
  requests: ConversationSummary[] | null;
  me: UserId | undefined;
  selected: GroupId | null;
  onSelect: (id: GroupId) => void;
  onBack: () => void;
}) {
  const people = usePeople();
  return (
    <nav className="conversation-list request-list" aria-label="Requests">
      <button type="button" className="archived-entry" aria-label="Back to chats" onClick={props.onBack}>
        <Icon name="back" size={18} /> Requests
        <span className="count">{props.requests?.length ?? 0}</span>
      </button>
      {props.requests === null ? (
        <span className="spinner" aria-label="Loading requests" />
      ) : props.requests.length === 0 ? (
        <div className="empty-list">
          <p>No message requests.</p>
          <p className="muted">When someone who is not in your contacts writes to you or adds you to a group, it waits here until you accept it.</p>
        </div>
      ) : (
        <ul>
          {props.requests.map((c) => {
            const from = requester(c, props.me);
            const username = from?.username ?? null;
            const name = from !== null ? people.name(from.userId, from.username) : 'Someone';
            const group = !isDirect(c);
            const title = group ? conversationTitle(c, props.me, people.name) : name;
            const selected = c.id === props.selected;
            return (
              <li key={c.id} className="conversation-entry">
                <button
                  type="button"
                  className={`conversation-item${selected ? ' selected' : ''}${c.unread > 0 ? ' has-unread' : ''}`}
                  aria-current={selected ? 'true' : undefined}
                  onClick={() => props.onSelect(c.id)}
                >
                  <Avatar name={title} group={group} picture={!group && from !== null ? people.pictureUrl(from.userId) : null} />
                  <span className="conversation-text">
                    <span className="conversation-top">
                      <span className="conversation-title" dir="auto">
                        {title}
                      </span>
                      <time className="conversation-time" dateTime={new Date(c.lastActivityAt).toISOString()}>
                        {formatListTime(c.lastActivityAt)}
                      </time>
                    </span>
                    <span className="request-from muted small" dir="auto">
                      {group ? `Added by ${username ?? 'someone'}` : (username ?? 'Unknown user')}
                    </span>
                    <span className="conversation-bottom">
                      <span className="conversation-preview" dir="auto">
                        {messagePreview(c.lastMessage, props.me, group, people.name)}
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
      )}
    </nav>
  );
}
