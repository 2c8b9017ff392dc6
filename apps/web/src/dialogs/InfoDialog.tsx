import { useState } from 'react';
import type { Conversation, ParleyClient } from '@parley/client';
import { Avatar } from '../components/Avatar';
import { Dialog, Icon } from '../components/Dialog';
import { conversationTitle, directPeer, memberName } from '../lib/conversation';
import { FormError } from '../components/FormError';
import { describeError } from '../lib/errors';
import { ContactInfo } from './ContactInfo';
import { MemberPicker } from './MemberPicker';

/** "Contact info" for a 1:1 chat (safety number), "Group info" for a group (members, add, remove, leave). */
export function InfoDialog(props: { client: ParleyClient; conversation: Conversation; onClose: () => void; onLeft: () => void }) {
  const { client, conversation: conv } = props;
  const peer = directPeer(conv, client.userId);
  const [contact, setContact] = useState<string | null>(null);

  if (peer !== null) {
    return (
      <Dialog title="Contact info" onClose={props.onClose}>
        <ContactInfo client={client} username={peer} />
      </Dialog>
    );
  }
  if (contact !== null) {
    return (
      <Dialog title="Contact info" onClose={() => setContact(null)}>
        <ContactInfo client={client} username={contact} />
        <button type="button" className="button" onClick={() => setContact(null)}>
          Back to group
        </button>
      </Dialog>
    );
  }
  return <GroupInfo client={client} conversation={conv} onClose={props.onClose} onLeft={props.onLeft} onContact={setContact} />;
}

function GroupInfo(props: { client: ParleyClient; conversation: Conversation; onClose: () => void; onLeft: () => void; onContact: (u: string) => void }) {
  const { client, conversation: conv } = props;
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [confirmLeave, setConfirmLeave] = useState(false);
  const [title, setTitle] = useState(conv.title ?? '');
  const active = conv.status === 'active';
  const me = client.userId;
  const names = conv.members.map(memberName);

  async function run(label: string, fn: () => Promise<unknown>) {
    setBusy(label);
    setError(null);
    try {
      await fn();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(null);
    }
  }

  return (
    <Dialog title="Group info" onClose={props.onClose}>
      <div className="stack">
        <div className="contact-head">
          <Avatar name={conversationTitle(conv, me)} size="lg" group />
          <div>
            <h3 dir="auto">{conversationTitle(conv, me)}</h3>
            <p className="muted">
              {conv.members.length} members · <Icon name="lock" size={13} /> end-to-end encrypted
            </p>
          </div>
        </div>

        {active && (
          <form
            className="inline-field"
            onSubmit={(e) => {
              e.preventDefault();
              if (title.trim() !== (conv.title ?? '')) void run('title', () => client.setTitle(conv.id, title.trim() === '' ? null : title.trim()));
            }}
          >
            <label className="field grow">
              <span>Group name</span>
              <input value={title} onChange={(e) => setTitle(e.target.value)} maxLength={100} dir="auto" disabled={busy !== null} />
            </label>
            <button type="submit" className="button" disabled={busy !== null || title.trim() === (conv.title ?? '')}>
              Rename
            </button>
          </form>
        )}

        <h4>Members</h4>
        <ul className="member-list" aria-label="Members">
          {conv.members.map((m) => {
            const name = memberName(m);
            const self = m.userId === me;
            return (
              <li key={m.userId} className="member">
                <Avatar name={name} size="sm" />
                <span className="member-name">
                  <span dir="auto">
                    {name}
                    {self && <span className="muted"> (you)</span>}
                  </span>
                  <span className="muted small">
                    {m.devices.length} {m.devices.length === 1 ? 'device' : 'devices'}
                  </span>
                </span>
                {!self && m.username !== null && (
                  <button type="button" className="link-button" onClick={() => props.onContact(name)} aria-label={`Safety number of ${name}`}>
                    Safety number
                  </button>
                )}
                {!self && active && m.username !== null && (
                  <button type="button" className="button danger small" aria-label={`Remove ${name}`} disabled={busy !== null} onClick={() => void run(`remove ${name}`, () => client.removeMember(conv.id, name))}>
                    {busy === `remove ${name}` ? 'Removing…' : 'Remove'}
                  </button>
                )}
              </li>
            );
          })}
        </ul>

        {active && <MemberPicker client={client} exclude={names} disabled={busy !== null} busyLabel="Adding…" onPick={(n) => client.addMembers(conv.id, [n]).then(() => undefined)} />}

        <FormError message={error} />

        {active &&
          (confirmLeave ? (
            <div className="confirm-box" role="group" aria-label="Confirm leaving">
              <p>Leave “{conversationTitle(conv, me)}”? You will stop receiving its messages. The history stays on this device.</p>
              <div className="dialog-actions inline">
                <button type="button" className="button" onClick={() => setConfirmLeave(false)}>
                  Stay
                </button>
                <button
                  type="button"
                  className="button danger"
                  disabled={busy !== null}
                  onClick={() =>
                    void run('leave', async () => {
                      await client.leave(conv.id);
                      props.onLeft();
                    })
                  }
                >
                  {busy === 'leave' ? 'Leaving…' : 'Leave'}
                </button>
              </div>
            </div>
          ) : (
            <button type="button" className="button danger" onClick={() => setConfirmLeave(true)}>
              Leave group
            </button>
          ))}
      </div>
    </Dialog>
  );
}
