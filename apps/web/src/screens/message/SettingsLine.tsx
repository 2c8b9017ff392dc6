import type { Message } from '@parley/client';
import { usePeople } from '../../app/people';
import { Icon } from '../../components/Dialog';
import { timerLine } from '../../lib/disappearing';
import { formatFull, formatTime } from '../../lib/format';
import { UNKNOWN_USER } from '../../lib/people';

/** A change of the conversation's settings (the disappearing-message timer), as a centred line in the chat. */
export function SettingsLine(props: { message: Message }) {
  const m = props.message;
  const people = usePeople();
  if (m.content.type !== 'settings') return null;
  const who = m.outgoing ? 'You' : (people.name(m.sender.userId, m.sender.username) === UNKNOWN_USER ? 'Someone' : people.name(m.sender.userId, m.sender.username));
  const at = m.receivedAt;
  return (
    <div className="notice-row">
      <div className="notice">
        <p className="notice-text" dir="auto">
          <Icon name="timer" size={14} />
          <span>{timerLine(who, m.content.disappearAfterMs)}</span>
        </p>
        <p className="notice-meta">
          <time dateTime={new Date(at).toISOString()} title={formatFull(at)}>
            {formatTime(at)}
          </time>
        </p>
      </div>
    </div>
  );
}
