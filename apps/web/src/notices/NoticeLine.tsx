import type { UserId } from '@parley/client';
import { Icon } from '../components/Dialog';
import { formatFull, formatTime } from '../lib/format';
import { noticeContact, noticeText, type NoticeMessage } from './notices';

/** A notice as a centred line in the timeline, with a way to check the safety number it is about. */
export function NoticeLine(props: { message: NoticeMessage; me: UserId | undefined; onVerify: (username: string) => void }) {
  const { notice } = props.message.content;
  const contact = noticeContact(notice, props.me);
  const at = props.message.receivedAt;
  // A refused change, or a gap this device could not decrypt (it asked to be re-added): a warning, not a shield.
  const warn = notice.kind === 'device_refused' || notice.kind === 'messages_undecryptable';
  return (
    <div className="notice-row">
      <div className={`notice${warn ? ' notice-warn' : ''}`}>
        <p className="notice-text" dir="auto">
          <Icon name={warn ? 'alert' : 'checkShield'} size={14} />
          <span>{noticeText(notice, props.me)}</span>
        </p>
        <p className="notice-meta">
          <time dateTime={new Date(at).toISOString()} title={formatFull(at)}>
            {formatTime(at)}
          </time>
          {contact !== null && (
            <>
              <span aria-hidden="true"> · </span>
              <button type="button" className="link-button inline-link" aria-label={`Verify ${contact}’s safety number`} onClick={() => props.onVerify(contact)}>
                Verify safety number
              </button>
            </>
          )}
        </p>
      </div>
    </div>
  );
}
