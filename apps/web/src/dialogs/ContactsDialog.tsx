import { useEffect, useState, type FormEvent } from 'react';
import { CONTACT_CODE_PREFIX, ClientError, MAX_NICKNAME_LENGTH, type Contact, type Conversation, type ParleyClient } from '@parley/client';
import { usePeople } from '../app/people';
import { useClientEvent } from '../app/session';
import { PersonAvatar } from '../components/Avatar';
import { Dialog, Icon } from '../components/Dialog';
import { FormError } from '../components/FormError';
import { canScanQrCodes, QrScanner } from '../components/QrScanner';
import { QrCode } from '../linking/QrCode';
import { directPeer } from '../lib/conversation';
import { describeError } from '../lib/errors';

type View = { kind: 'list' } | { kind: 'add' } | { kind: 'my-code' } | { kind: 'scan' } | { kind: 'nickname'; contact: Contact };

/**
 * "Contacts": the user's contact list (kept encrypted and synced between
 * their own devices by the client), with a nickname, remove and "Message"
 * for each; "Add contact" by username or by a contact's QR code; "My code".
 */
export function ContactsDialog(props: { client: ParleyClient; existing: readonly Conversation[]; onClose: () => void; onOpen: (conv: Conversation) => void }) {
  const { client } = props;
  const [contacts, setContacts] = useState<Contact[] | null>(null);
  const [view, setView] = useState<View>({ kind: 'list' });
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const people = usePeople();

  useEffect(() => {
    let live = true;
    client.contacts.list().then(
      (list) => live && setContacts(list),
      (err: unknown) => live && setError(describeError(err)),
    );
    return () => {
      live = false;
    };
  }, [client]);
  useClientEvent(client, 'contacts', (list) => setContacts(list));

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

  async function message(c: Contact) {
    await run(`message ${c.userId}`, async () => {
      const open = props.existing.find((x) => x.status === 'active' && directPeer(x, client.userId) === c.username);
      props.onOpen(open ?? (await client.createConversation([c.username], { kind: 'direct' })));
    });
  }

  if (view.kind === 'add' || view.kind === 'scan') {
    return <AddContact client={client} scanning={view.kind === 'scan'} onScan={(on) => setView({ kind: on ? 'scan' : 'add' })} onDone={() => setView({ kind: 'list' })} />;
  }
  if (view.kind === 'my-code') {
    const code = client.contacts.myCode();
    return (
      <Dialog title="My code" onClose={() => setView({ kind: 'list' })}>
        <div className="stack my-code">
          <p className="muted">Someone who scans this code with Parley adds you as a contact. It holds your username and account id, nothing secret.</p>
          <QrCode text={code} label="My contact code" />
          <p>
            <strong dir="auto">{client.username}</strong>
          </p>
          <p className="muted small">Or send them this code to paste under “Add contact”:</p>
          <code aria-label="Contact code">{code}</code>
          <button type="button" className="button" onClick={() => setView({ kind: 'list' })}>
            Done
          </button>
        </div>
      </Dialog>
    );
  }
  if (view.kind === 'nickname') {
    return <NicknameDialog client={client} contact={view.contact} onDone={() => setView({ kind: 'list' })} />;
  }

  const sorted = [...(contacts ?? [])].sort((a, b) => people.name(a.userId, a.username).localeCompare(people.name(b.userId, b.username)));
  return (
    <Dialog title="Contacts" onClose={props.onClose}>
      <div className="stack">
        <div className="dialog-actions inline">
          <button type="button" className="button" onClick={() => setView({ kind: 'my-code' })}>
            <Icon name="qr" size={18} /> My code
          </button>
          <button type="button" className="button primary" onClick={() => setView({ kind: 'add' })}>
            <Icon name="userPlus" size={18} /> Add contact
          </button>
        </div>
        <FormError message={error} />
        {contacts === null ? (
          error === null && <span className="spinner" aria-label="Loading contacts" />
        ) : sorted.length === 0 ? (
          <p className="muted">No contacts yet. Add someone by their username or their QR code. People you start a chat with, and requests you accept, are added too.</p>
        ) : (
          <ul className="member-list contact-list" aria-label="Contacts">
            {sorted.map((c) => {
              const name = people.name(c.userId, c.username);
              return (
                <li key={c.userId} className="member">
                  <PersonAvatar userId={c.userId} username={c.username} size="sm" />
                  <span className="member-name">
                    <span dir="auto">{name}</span>
                    {name !== c.username && (
                      <span className="muted small" dir="auto">
                        {c.username}
                      </span>
                    )}
                  </span>
                  <span className="contact-actions">
                    <button type="button" className="button small" aria-label={`Message ${name}`} disabled={busy !== null} onClick={() => void message(c)}>
                      Message
                    </button>
                    <button type="button" className="button small" aria-label={`Nickname for ${name}`} disabled={busy !== null} onClick={() => setView({ kind: 'nickname', contact: c })}>
                      Nickname
                    </button>
                    <button
                      type="button"
                      className="button danger small"
                      aria-label={`Remove ${name} from contacts`}
                      disabled={busy !== null}
                      onClick={() => void run(`remove ${c.userId}`, () => client.contacts.remove(c.userId))}
                    >
                      {busy === `remove ${c.userId}` ? 'Removing…' : 'Remove'}
                    </button>
                  </span>
                </li>
              );
            })}
          </ul>
        )}
      </div>
    </Dialog>
  );
}

function AddContact(props: { client: ParleyClient; scanning: boolean; onScan: (on: boolean) => void; onDone: () => void }) {
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [canScan, setCanScan] = useState(false);
  useEffect(() => {
    let live = true;
    void canScanQrCodes().then((ok) => live && setCanScan(ok));
    return () => {
      live = false;
    };
  }, []);

  async function add(value: string) {
    const v = value.trim();
    if (v === '' || busy) return;
    setBusy(true);
    setError(null);
    try {
      await props.client.contacts.add(v);
      props.onDone();
    } catch (err) {
      setError(
        err instanceof ClientError && err.code === 'bad_request' && /yourself/.test(err.message)
          ? 'That is you. Enter someone else’s username.'
          : err instanceof ClientError && err.code === 'bad_request'
            ? 'That is not a Parley contact code. Enter a username, or scan the code under Contacts → My code.'
            : describeError(err),
      );
      setBusy(false);
    }
  }

  function submit(e: FormEvent) {
    e.preventDefault();
    void add(text);
  }

  return (
    <Dialog title="Add contact" onClose={props.onDone}>
      {props.scanning ? (
        <div className="stack">
          <QrScanner
            label="Camera: point it at the other person’s contact code"
            typeInstead="the username"
            accept={(t) => t.startsWith(CONTACT_CODE_PREFIX)}
            onScan={(t) => {
              props.onScan(false);
              void add(t);
            }}
            onError={(m) => {
              setError(m);
              props.onScan(false);
            }}
          />
          <button type="button" className="button" onClick={() => props.onScan(false)}>
            Type a username instead
          </button>
        </div>
      ) : (
        <form className="stack" onSubmit={submit}>
          <p className="muted">Enter their exact username, or the code they show under Contacts → My code (scan it, or paste it).</p>
          <label className="field">
            <span>Username or contact code</span>
            <input value={text} onChange={(e) => setText(e.target.value)} autoFocus autoCapitalize="none" spellCheck={false} dir="auto" disabled={busy} />
          </label>
          <FormError message={error} />
          <div className="dialog-actions inline">
            {canScan && (
              <button type="button" className="button" onClick={() => props.onScan(true)} disabled={busy}>
                <Icon name="camera" size={18} /> Scan code
              </button>
            )}
            <button type="submit" className="button primary" disabled={busy || text.trim() === ''}>
              {busy ? 'Adding…' : 'Add contact'}
            </button>
          </div>
        </form>
      )}
    </Dialog>
  );
}

function NicknameDialog(props: { client: ParleyClient; contact: Contact; onDone: () => void }) {
  const [nickname, setNickname] = useState(props.contact.nickname ?? '');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function save(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const v = nickname.trim();
      await props.client.contacts.setNickname(props.contact.userId, v === '' ? null : v);
      props.onDone();
    } catch (err) {
      setError(describeError(err));
      setBusy(false);
    }
  }

  return (
    <Dialog title="Nickname" onClose={props.onDone}>
      <form className="stack" onSubmit={(e) => void save(e)}>
        <p className="muted">
          Only you see it, on your devices. It is shown instead of the name <span dir="auto">{props.contact.username}</span> gave themselves.
        </p>
        <label className="field">
          <span>Nickname</span>
          <input value={nickname} onChange={(e) => setNickname(e.target.value)} maxLength={MAX_NICKNAME_LENGTH} autoFocus dir="auto" disabled={busy} />
        </label>
        <FormError message={error} />
        <div className="dialog-actions inline">
          <button type="button" className="button" onClick={props.onDone} disabled={busy}>
            Cancel
          </button>
          <button type="submit" className="button primary" disabled={busy}>
            {busy ? 'Saving…' : 'Save'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
