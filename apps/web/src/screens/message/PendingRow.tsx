import { Icon } from '../../components/Dialog';
import { formatDuration, formatTime } from '../../lib/format';
import type { PendingMessage } from '../MessageList';

export function PendingRow(props: { pending: PendingMessage; onRetry: (id: string) => void; onDiscard: (id: string) => void }) {
  const p = props.pending;
  const input = p.input;
  const text = typeof input === 'string' ? input : 'caption' in input ? (input.caption ?? '') : '';
  return (
    <div className={`message-row outgoing tail${p.state === 'failed' ? ' failed' : ''}`}>
      <article className={`bubble pending${p.previewUrl !== null ? ' bubble-media' : ''}`} aria-label="You">
        {typeof input !== 'string' && 'voice' in input && (
          <div className="voice-player">
            <span className="voice-play" aria-hidden="true">
              <Icon name="mic" size={18} />
            </span>
            <span className="voice-time">Voice message · {formatDuration(input.durationMs)}</span>
          </div>
        )}
        {typeof input !== 'string' &&
          'attachment' in input &&
          (p.previewUrl !== null ? (
            <div className="attachment-image">
              <img src={p.previewUrl} alt={input.fileName} />
            </div>
          ) : (
            <div className="attachment-file">
              <Icon name="file" size={28} />
              <span className="file-meta">
                <span className="file-name" dir="auto">
                  {input.fileName}
                </span>
              </span>
            </div>
          ))}
        {text !== '' && (
          <p className="message-text" dir="auto">
            {text}
          </p>
        )}
        <span className="meta">
          <time dateTime={new Date(p.createdAt).toISOString()}>{formatTime(p.createdAt)}</time>
          {p.state === 'sending' ? (
            <span className="status" title="Sending">
              <Icon name="clock" size={14} />
              <span className="sr-only">Sending</span>
            </span>
          ) : (
            <span className="status failed-text">Not sent</span>
          )}
        </span>
      </article>
      {p.state === 'failed' && (
        <div className="failed-actions">
          {p.error !== undefined && <span className="muted small">{p.error}</span>}
          <button type="button" className="link-button" onClick={() => props.onRetry(p.localId)}>
            Retry
          </button>
          <button type="button" className="link-button" onClick={() => props.onDiscard(p.localId)}>
            Delete
          </button>
        </div>
      )}
    </div>
  );
}
