import type { Message, ParleyClient } from '@parley/client';
import { Icon } from '../../components/Dialog';
import { formatFull, formatTime } from '../../lib/format';
import { MessageBody } from './MessageBody';

export function MessageRow(props: { client: ParleyClient; message: Message; showSender: boolean; tail: boolean; onOpenImage: (url: string, name: string) => void }) {
  const { message: m, showSender, tail } = props;
  const at = m.outgoing ? m.sentAt : m.receivedAt;
  const image = m.content.type === 'attachment' && m.content.mimeType.startsWith('image/');
  return (
    <div className={`message-row ${m.outgoing ? 'outgoing' : 'incoming'}${tail ? ' tail' : ''}`}>
      <article className={`bubble${image ? ' bubble-media' : ''}`} aria-label={m.outgoing ? 'You' : (m.sender.username ?? 'Unknown user')}>
        {showSender && (
          <span className="sender" dir="auto">
            {m.sender.username ?? 'Unknown user'}
          </span>
        )}
        <MessageBody client={props.client} message={m} onOpenImage={props.onOpenImage} />
        <span className="meta">
          <time dateTime={new Date(at).toISOString()} title={formatFull(at)}>
            {formatTime(at)}
          </time>
          {m.outgoing && (
            <span className="status sent" title="Sent: stored on the server for delivery">
              <Icon name="check" size={14} />
              <span className="sr-only">Sent</span>
            </span>
          )}
        </span>
      </article>
    </div>
  );
}
