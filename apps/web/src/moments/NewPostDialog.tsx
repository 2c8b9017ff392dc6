import { useEffect, useRef, useState } from 'react';
import type { ParleyClient } from '@parley/client';
import { Dialog, Icon } from '../components/Dialog';
import { FormError } from '../components/FormError';
import { AudiencePicker, audienceFrom, type AudienceKind } from './AudiencePicker';
import { useFriends, useLists } from './hooks';
import { MAX_MOMENT_LOCATION_LENGTH, MAX_MOMENT_PHOTOS, MAX_MOMENT_TEXT_LENGTH, tooManyPhotos } from './limits';
import { preparePhoto, type PreparedPhoto } from './photos';
import { describeMomentError } from './text';

/** Photos prepared at the same time. */
const PREPARE_AT_ONCE = 2;

/**
 * "New post": text, an optional location, up to 9 photos (scaled down and
 * given thumbnails on this device before anything is sent) and who can see
 * it. Too many or too large photos are refused here, before any upload.
 */
export function NewPostDialog(props: { client: ParleyClient; onClose: () => void; onPosted: () => void }) {
  const { client } = props;
  const friends = useFriends(client);
  const lists = useLists(client);
  const [text, setText] = useState('');
  const [location, setLocation] = useState('');
  const [photos, setPhotos] = useState<readonly PreparedPhoto[]>([]);
  const [preparing, setPreparing] = useState(0);
  const [kind, setKind] = useState<AudienceKind>('friends');
  const [chosen, setChosen] = useState<readonly string[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);

  // The previews are blob URLs: revoked when the dialog goes away (and those that are ready only after it went).
  const photosRef = useRef(photos);
  photosRef.current = photos;
  const open = useRef(true);
  useEffect(
    () => () => {
      open.current = false;
      for (const p of photosRef.current) URL.revokeObjectURL(p.previewUrl);
    },
    [],
  );

  async function addFiles(files: readonly File[]) {
    setError(null);
    const tooMany = tooManyPhotos(photos.length + preparing, files.length);
    if (tooMany !== null) {
      setError(tooMany);
      return;
    }
    setPreparing((n) => n + files.length);
    // A few at a time (decoding and encoding run off the main thread), added in the order chosen.
    const queue = files.map((file) => ({ file, result: undefined as Promise<PreparedPhoto> | undefined }));
    let started = 0;
    const startNext = () => {
      const item = queue[started++];
      if (item !== undefined) item.result = preparePhoto(item.file);
    };
    for (let i = 0; i < PREPARE_AT_ONCE; i++) startNext();
    const problems: string[] = [];
    for (const item of queue) {
      try {
        const p = await (item.result ?? preparePhoto(item.file));
        if (open.current) setPhotos((prev) => [...prev, p]);
        else URL.revokeObjectURL(p.previewUrl);
      } catch (err) {
        problems.push(err instanceof Error ? err.message : 'That photo could not be read.');
      } finally {
        setPreparing((n) => n - 1);
        startNext();
      }
    }
    if (problems.length > 0) setError(problems.join(' '));
  }

  function remove(i: number) {
    const p = photos[i];
    if (p !== undefined) URL.revokeObjectURL(p.previewUrl);
    setPhotos((prev) => prev.filter((_, j) => j !== i));
  }

  const audience = audienceFrom(kind, chosen);
  const empty = text.trim() === '' && photos.length === 0;
  const canPost = !busy && preparing === 0 && !empty && audience !== null;

  function post() {
    if (!canPost || audience === null) return;
    setBusy(true);
    setError(null);
    const loc = location.trim();
    client.moments
      .post({ text: text.trim(), ...(loc !== '' ? { location: loc } : {}), photos: photos.map((p) => p.input), audience })
      .then(props.onPosted, (err: unknown) => {
        setBusy(false);
        setError(describeMomentError(err));
      });
  }

  return (
    <Dialog title="New post" onClose={busy ? () => undefined : props.onClose}>
      <form
        className="stack moment-new-post"
        onSubmit={(e) => {
          e.preventDefault();
          post();
        }}
      >
        <div className="field">
          <textarea
            aria-label="What's on your mind"
            placeholder="What's on your mind?"
            rows={4}
            maxLength={MAX_MOMENT_TEXT_LENGTH}
            value={text}
            disabled={busy}
            dir="auto"
            onChange={(e) => setText(e.target.value)}
          />
        </div>
        <ul className="moment-photo-previews" aria-label="Photos to post">
          {photos.map((p, i) => (
            <li key={p.previewUrl}>
              <img src={p.previewUrl} alt={p.name} />
              <button type="button" className="icon-button small" aria-label={`Remove ${p.name}`} disabled={busy} onClick={() => remove(i)}>
                <Icon name="close" size={14} />
              </button>
            </li>
          ))}
          {preparing > 0 && (
            <li className="moment-photo-preparing">
              <span className="spinner" aria-label="Preparing photos" />
            </li>
          )}
        </ul>
        <div className="moment-new-post-tools">
          <button type="button" className="button" disabled={busy || photos.length + preparing >= MAX_MOMENT_PHOTOS} onClick={() => fileInput.current?.click()}>
            <Icon name="camera" size={18} /> Add photos
          </button>
          <span className="muted small">
            {photos.length}/{MAX_MOMENT_PHOTOS}
          </span>
          <input
            ref={fileInput}
            type="file"
            accept="image/*"
            multiple
            hidden
            aria-label="Choose photos"
            onChange={(e) => {
              const files = [...(e.target.files ?? [])];
              e.target.value = '';
              void addFiles(files);
            }}
          />
        </div>
        <label className="field">
          <span>Location (optional)</span>
          <input value={location} maxLength={MAX_MOMENT_LOCATION_LENGTH} disabled={busy} dir="auto" placeholder="Lisbon" onChange={(e) => setLocation(e.target.value)} />
        </label>
        <AudiencePicker
          kind={kind}
          lists={chosen}
          available={lists}
          friendCount={friends?.length ?? null}
          disabled={busy}
          onChange={(k, l) => {
            setKind(k);
            setChosen(l);
          }}
        />
        <FormError message={error} />
        <div className="dialog-actions">
          <button type="button" className="button" disabled={busy} onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" className="button primary" disabled={!canPost}>
            {busy ? 'Posting…' : 'Post'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
