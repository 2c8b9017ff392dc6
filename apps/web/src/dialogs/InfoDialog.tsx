import { useState } from 'react';
import type { Conversation, ParleyClient, UserId } from '@parley/client';
import { usePeople } from '../app/people';
import { Avatar, PersonAvatar } from '../components/Avatar';
import { Dialog, Icon } from '../components/Dialog';
import { conversationTitle, directMember, directPeer, memberName } from '../lib/conversation';
import { FormError } from '../components/FormError';
import { describeError } from '../lib/errors';
import { ContactInfo } from './ContactInfo';
import { MemberPicker } from './MemberPicker';

/** "Contact info" for a 1:1 chat (safety number), "Group info" for a group (members, add, remove, leave). */
export function InfoDialog(props: { client: ParleyClient; conversation: Conversation; onClose: () => void; onLeft: () => void }) {
  const { client, conversation: conv } = props;
  const peer = directPeer(conv, client.userId);
  const peerMember = directMember(conv, client.userId);
  const [contact, setContact] = useState<{ username: string; userId: UserId } | null>(null);

  if (peer !== null) {
    return (
      <Dialog title="Contact info" onClose={props.onClose}>
        <ContactInfo client={client} username={peer} {...(peerMember !== null ? { userId: peerMember.userId } : {})} />
      </Dialog>
    );
  }
  if (contact !== null) {
    return (
      <Dialog title="Contact info" onClose={() => setContact(null)}>
        <ContactInfo client={client} username={contact.username} userId={contact.userId} />
        <button type="button" className="button" onClick={() => setContact(null)}>
          Back to group
        </button>
      </Dialog>
    );
  }
  return <GroupInfo client={client} conversation={conv} onClose={props.onClose} onLeft={props.onLeft} onContact={setContact} />;
}

function GroupInfo(props: { client: ParleyClient; conversation: Conversation; onClose: () => void; onLeft: () => void; onContact: (c: { username: string; userId: UserId }) => void }) {
  const { client, conversation: conv } = props;
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [confirmLeave, setConfirmLeave] = useState(false);
  const [title, setTitle] = useState(conv.title ?? '');
  const active = conv.status === 'active';
  const me = client.userId;
  const people = usePeople();
  // Usernames: what adding and removing go by.
  const names = conv.members.map((m) => memberName(m));
  const heading = conversationTitle(conv, me, people.name);

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
          <Avatar name={heading} size="lg" group />
          <div>
            <h3 dir="auto">{heading}</h3>
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
            const username = memberName(m);
            const name = memberName(m, people.name);
            const self = m.userId === me;
            return (
              <li key={m.userId} className="member">
                <PersonAvatar userId={m.userId} username={m.username} size="sm" />
                <span className="member-name">
                  <span dir="auto">
                    {name}
                    {self && <span className="muted"> (you)</span>}
                  </span>
                  <span className="muted small">
                    {name !== username && (
                      <>
                        <span dir="auto">{username}</span> ·{' '}
                      </>
                    )}
                    {m.devices.length} {m.devices.length === 1 ? 'device' : 'devices'}
                  </span>
                </span>
                {!self && m.username !== null && (
                  <button type="button" className="link-button" onClick={() => props.onContact({ username, userId: m.userId })} aria-label={`Safety number of ${name}`}>
                    Safety number
                  </button>
                )}
                {!self && active && m.username !== null && (
                  <button type="button" className="button danger small" aria-label={`Remove ${name}`} disabled={busy !== null} onClick={() => void run(`remove ${username}`, () => client.removeMember(conv.id, username))}>
                    {busy === `remove ${username}` ? 'Removing…' : 'Remove'}
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
              <p>Leave “{heading}”? You will stop receiving its messages. The history stays on this device.</p>
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
