import { useEffect, useState } from 'react';
import QRCode from 'qrcode';
import type { ParleyClient, UserId } from '@parley/client';
import { usePeople } from '../app/people';
import { Avatar } from '../components/Avatar';
import { Icon } from '../components/Dialog';
import { FormError } from '../components/FormError';
import { describeError } from '../lib/errors';
import { safetyGroups } from '../lib/format';
import { BlockUser } from './BlockUser';

/**
 * A contact's safety number: the same 60 digits on both phones while both
 * people's device keys are unchanged. Comparing it (in person, or by scanning
 * the QR code) proves nobody sits in the middle. "Verified" is remembered with
 * the number, so any new device on either side clears it.
 */
export function ContactInfo(props: { client: ParleyClient; username: string; userId?: UserId }) {
  const [state, setState] = useState<{ safetyNumber: string; verified: boolean } | null>(null);
  const [userId, setUserId] = useState<UserId | null>(props.userId ?? null);
  const [adding, setAdding] = useState(false);
  const people = usePeople();

  // Opened by username alone (a notice's "Verify safety number"): the directory tells whose it is.
  useEffect(() => {
    if (props.userId !== undefined) return;
    let live = true;
    props.client.lookupUser(props.username).then(
      (u) => live && setUserId(u.userId),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [props.client, props.username, props.userId]);

  // Looking at someone fetches their profile again (a name or picture changed since the last sync shows now).
  useEffect(() => {
    if (userId !== null) void props.client.profiles.refresh(userId).catch(() => undefined);
  }, [props.client, userId]);

  async function addContact() {
    setAdding(true);
    setError(null);
    try {
      await props.client.contacts.add(props.username);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setAdding(false);
    }
  }

  const name = userId !== null ? people.name(userId, props.username) : props.username;
  const contact = userId !== null ? people.isContact(userId) : null;
  const [qr, setQr] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let live = true;
    setState(null);
    props.client.verification(props.username).then(
      async (v) => {
        if (!live) return;
        setState(v);
        const url = await QRCode.toDataURL(v.safetyNumber, { margin: 1, width: 240, errorCorrectionLevel: 'M' });
        if (live) setQr(url);
      },
      (err: unknown) => live && setError(describeError(err)),
    );
    return () => {
      live = false;
    };
  }, [props.client, props.username]);

  async function toggle() {
    if (state === null) return;
    setBusy(true);
    try {
      await props.client.setVerified(props.username, !state.verified);
      setState(await props.client.verification(props.username));
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="contact-info">
      <div className="contact-head">
        <Avatar name={name} size="lg" picture={userId !== null ? people.pictureUrl(userId) : null} />
        <div>
          <h3 dir="auto">{name}</h3>
          <p className="muted small">
            Username: <span dir="auto">{props.username}</span>
          </p>
          {state?.verified === true ? (
            <p className="verified">
              <Icon name="checkShield" size={16} /> Verified
            </p>
          ) : (
            <p className="muted">Not verified</p>
          )}
        </div>
      </div>
      {userId !== null && people.profile(userId)?.about != null && (
        <p className="profile-about" dir="auto">
          {people.profile(userId)?.about}
        </p>
      )}
      {contact === false && (
        <button type="button" className="button" onClick={() => void addContact()} disabled={adding}>
          <Icon name="plus" size={18} /> {adding ? 'Adding…' : 'Add contact'}
        </button>
      )}
      {contact === true && <p className="muted small">In your contacts</p>}
      <FormError message={error} />
      {state === null ? (
        error === null && <span className="spinner" aria-label="Computing safety number" />
      ) : (
        <>
          <p className="muted">
            Compare these numbers with {name}, in person or on a call you trust, or scan each other’s code. If they match, nobody can read or change your messages
            in between.
          </p>
          <div className="safety">
            <div className="safety-number" aria-label="Safety number">
              {safetyGroups(state.safetyNumber).map((g, i) => (
                <span key={i}>{g}</span>
              ))}
            </div>
            {qr !== null ? <img className="safety-qr" src={qr} alt="Safety number QR code" width={200} height={200} /> : <div className="safety-qr" />}
          </div>
          <button type="button" className={`button${state.verified ? '' : ' primary'}`} onClick={() => void toggle()} disabled={busy}>
            {state.verified ? 'Mark as not verified' : 'Mark as verified'}
          </button>
        </>
      )}
      {userId !== null && userId !== props.client.userId && <BlockUser client={props.client} userId={userId} name={name} />}
    </div>
  );
}
