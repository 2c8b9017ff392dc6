import type { UserId } from '@parley/client';
import { Icon } from '../../components/Dialog';
import type { NameOf } from '../../lib/people';

/** What a reply quotes (the SDK's Message.replyTo). */
export interface QuoteInfo {
  readonly seq: number;
  readonly available: boolean;
  readonly sender: { readonly userId: string; readonly username: string | null } | null;
  readonly preview: string | null;
}

function who(q: QuoteInfo, me: string | undefined, nameOf?: NameOf): string {
  if (q.sender === null) return 'Unknown user';
  if (q.sender.userId === me) return 'You';
  return nameOf !== undefined ? nameOf(q.sender.userId as UserId, q.sender.username) : (q.sender.username ?? 'Unknown user');
}

/** The quoted message inside a reply; a click scrolls to the original. */
export function ReplyQuote(props: { quote: QuoteInfo; me: string | undefined; nameOf?: NameOf; onJump: (seq: number) => void }) {
  const q = props.quote;
  if (!q.available) {
    return (
      <div className="reply-quote unavailable" role="note">
        <span className="muted small">Original message not available</span>
      </div>
    );
  }
  const name = who(q, props.me, props.nameOf);
  return (
    <button type="button" className="reply-quote" aria-label={`Reply to ${name}: ${q.preview ?? ''}. Go to the original message`} onClick={() => props.onJump(q.seq)}>
      <span className="reply-sender" dir="auto">
        {name}
      </span>
      <span className="reply-preview" dir="auto">
        {q.preview ?? ''}
      </span>
    </button>
  );
}

/** Above the composer while writing a reply (or an edit): what it refers to, and a way out. */
export function ComposerContextBar(props: { mode: 'reply' | 'edit'; name: string; preview: string; onCancel: () => void }) {
  return (
    <div className={`composer-context ${props.mode}`} role="status" aria-label={props.mode === 'reply' ? 'Replying' : 'Editing'}>
      <Icon name={props.mode === 'reply' ? 'reply' : 'edit'} size={18} />
      <span className="composer-context-text">
        <span className="reply-sender" dir="auto">
          {props.mode === 'reply' ? `Replying to ${props.name}` : 'Editing message'}
        </span>
        <span className="reply-preview" dir="auto">
          {props.preview}
        </span>
      </span>
      <button type="button" className="icon-button small" aria-label={props.mode === 'reply' ? 'Cancel reply' : 'Cancel editing'} onClick={props.onCancel}>
        <Icon name="close" size={16} />
      </button>
    </div>
  );
}
