import type { ClientError } from '@parley/client';
import { Dialog, Icon } from '../components/Dialog';

/** The names in a `safety_number_changed` send error (detail.users), for the question below. */
export function changedUsers(err: ClientError): string[] {
  const users = err.detail?.['users'];
  if (!Array.isArray(users)) return [];
  const names: string[] = [];
  for (const u of users as unknown[]) {
    const name = typeof u === 'object' && u !== null ? (u as { username?: unknown }).username : undefined;
    if (typeof name === 'string' && name !== '') names.push(name);
  }
  return names;
}

function list(names: readonly string[]): string {
  if (names.length <= 1) return names[0] ?? 'A contact';
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1] ?? ''}`;
}

/**
 * Asked before sending to a conversation where someone the user verified now
 * has a different safety number (a new device, a removed one, or a fresh
 * start — or someone in the middle). Nothing has been sent yet.
 */
export function SafetyNumberChangedDialog(props: { users: readonly string[]; count: number; onVerify: (username: string) => void; onSendAnyway: () => void; onCancel: () => void }) {
  const who = list(props.users);
  const several = props.users.length > 1;
  const first = props.users[0];
  return (
    <Dialog title="Safety number changed" onClose={props.onCancel}>
      <div className="stack">
        <p className="warning-note">
          <Icon name="alert" size={16} />
          <span>
            {several ? `The safety numbers of ${who} changed.` : `${who}’s safety number changed.`} Verify it again, or send anyway.
          </span>
        </p>
        <p className="muted">
          This happens when someone adds or removes a device or starts over — or when someone is trying to get in between. You marked {several ? 'them' : who} as verified, so
          Parley asks before sending. {props.count === 1 ? 'Your message has' : `Your ${props.count} messages have`} not been sent.
        </p>
        <div className="dialog-actions inline wrap">
          <button type="button" className="button" onClick={props.onCancel}>
            Cancel
          </button>
          {first !== undefined && (
            <button type="button" className="button" onClick={() => props.onVerify(first)}>
              Verify {several ? first : 'again'}
            </button>
          )}
          <button type="button" className="button primary" onClick={props.onSendAnyway}>
            Send anyway
          </button>
        </div>
      </div>
    </Dialog>
  );
}
