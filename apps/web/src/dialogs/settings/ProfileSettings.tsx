import { useEffect, useRef, useState, type FormEvent } from 'react';
import { ClientError, MAX_ABOUT_LENGTH, MAX_DISPLAY_NAME_LENGTH, MAX_PICTURE_BYTES, type ParleyClient, type ProfileInput } from '@parley/client';
import { usePeople } from '../../app/people';
import { Avatar } from '../../components/Avatar';
import { Icon } from '../../components/Dialog';
import { FormError } from '../../components/FormError';
import { describeError } from '../../lib/errors';
import { formatBytes } from '../../lib/format';
import { pictureFromFile } from '../../lib/picture';

/** A picture change not saved yet: new bytes (with a preview URL), or removal. */
type PictureChange = { kind: 'set'; bytes: Uint8Array; url: string } | { kind: 'remove' } | null;

/** The SDK's refusals of a profile (checked before anything is uploaded), in words. */
function profileError(err: unknown): string {
  if (err instanceof ClientError && err.code === 'too_large') {
    const field = err.detail?.['field'];
    if (field === 'picture') return `That picture is too large even scaled down: the limit is ${formatBytes(MAX_PICTURE_BYTES)}. Choose a simpler picture.`;
    if (field === 'about') return `The about line is too long: at most ${MAX_ABOUT_LENGTH} characters.`;
    return `The display name is too long: at most ${MAX_DISPLAY_NAME_LENGTH} characters.`;
  }
  if (err instanceof ClientError && err.code === 'bad_request') return 'The name or about line holds characters that cannot be used (control or direction characters). Remove them and save again.';
  return describeError(err);
}

/**
 * Settings → profile: display name, about line and picture. The client
 * encrypts the profile with this user's profile key before it leaves the
 * device; contacts and the members of accepted conversations hold that key.
 */
export function ProfileSettings(props: { client: ParleyClient }) {
  const { client } = props;
  const people = usePeople();
  const [loaded, setLoaded] = useState(false);
  const [displayName, setDisplayName] = useState('');
  const [about, setAbout] = useState('');
  const [saved, setSaved] = useState<{ displayName: string; about: string } | null>(null);
  const [picture, setPicture] = useState<PictureChange>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);

  useEffect(() => {
    let live = true;
    client.profiles.mine().then(
      (p) => {
        if (!live) return;
        setDisplayName(p.displayName ?? '');
        setAbout(p.about ?? '');
        setSaved({ displayName: p.displayName ?? '', about: p.about ?? '' });
        setLoaded(true);
      },
      (err: unknown) => live && setError(describeError(err)),
    );
    return () => {
      live = false;
    };
  }, [client]);

  // A preview URL is revoked once it is replaced or the section closes.
  const previewUrl = picture?.kind === 'set' ? picture.url : null;
  useEffect(() => () => {
    if (previewUrl !== null) URL.revokeObjectURL(previewUrl);
  }, [previewUrl]);

  async function choose(file: File | undefined) {
    if (file === undefined) return;
    setError(null);
    setStatus(null);
    try {
      const bytes = await pictureFromFile(file, MAX_PICTURE_BYTES);
      setPicture({ kind: 'set', bytes, url: URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' })) });
    } catch {
      setError('That file is not a picture this browser can read. Choose a JPEG, PNG or WebP image.');
    }
  }

  async function save(e: FormEvent) {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    setStatus(null);
    const input: ProfileInput = {
      displayName: displayName.trim() === '' ? null : displayName.trim(),
      about: about.trim() === '' ? null : about.trim(),
      ...(picture?.kind === 'set' ? { picture: { bytes: picture.bytes, mimeType: 'image/jpeg' as const } } : picture?.kind === 'remove' ? { picture: null } : {}),
    };
    try {
      const p = await client.profiles.set(input);
      setSaved({ displayName: p.displayName ?? '', about: p.about ?? '' });
      setDisplayName(p.displayName ?? '');
      setAbout(p.about ?? '');
      setPicture(null);
      setStatus('Profile saved');
    } catch (err) {
      setError(profileError(err));
    } finally {
      setBusy(false);
    }
  }

  const me = client.userId;
  const current = me !== undefined ? people.pictureUrl(me) : null;
  const shown = picture?.kind === 'set' ? picture.url : picture?.kind === 'remove' ? null : current;
  const name = displayName.trim() !== '' ? displayName.trim() : (client.username ?? '?');
  const changed = saved !== null && (picture !== null || displayName.trim() !== saved.displayName || about.trim() !== saved.about);

  return (
    <form className="profile-edit" aria-label="Profile" onSubmit={(e) => void save(e)}>
      <div className="contact-head">
        <Avatar name={name} size="lg" picture={shown} />
        <div>
          <h3 dir="auto">{name}</h3>
          <p className="muted small">
            Username: <span dir="auto">{client.username}</span>
          </p>
        </div>
      </div>
      <div className="profile-picture-row">
        <input
          ref={fileInput}
          type="file"
          accept="image/jpeg,image/png,image/webp,image/gif"
          hidden
          onChange={(e) => {
            void choose(e.target.files?.[0]);
            e.target.value = '';
          }}
        />
        <button type="button" className="button small" disabled={!loaded || busy} onClick={() => fileInput.current?.click()}>
          <Icon name="camera" size={16} /> Change picture
        </button>
        {shown !== null && (
          <button type="button" className="button small" disabled={!loaded || busy} onClick={() => setPicture({ kind: 'remove' })}>
            Remove picture
          </button>
        )}
      </div>
      <label className="field">
        <span>Display name</span>
        <input value={displayName} onChange={(e) => setDisplayName(e.target.value)} maxLength={MAX_DISPLAY_NAME_LENGTH} dir="auto" disabled={!loaded || busy} placeholder={client.username} />
      </label>
      <label className="field">
        <span>About</span>
        <textarea value={about} onChange={(e) => setAbout(e.target.value)} maxLength={MAX_ABOUT_LENGTH} rows={2} dir="auto" disabled={!loaded || busy} />
      </label>
      <p className="muted small">
        <Icon name="lock" size={13} /> Encrypted on this device. Your contacts and the people in conversations you accepted can see it; the server cannot.
      </p>
      <FormError message={error} />
      <div className="dialog-actions inline">
        <span className="muted small" role="status">
          {status}
        </span>
        <button type="submit" className="button primary" disabled={!loaded || busy || !changed}>
          {busy ? 'Saving…' : 'Save profile'}
        </button>
      </div>
    </form>
  );
}
