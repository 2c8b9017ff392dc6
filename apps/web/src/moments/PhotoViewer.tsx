import { useEffect, useState } from 'react';
import type { MomentPost, ParleyClient } from '@parley/client';
import { Dialog } from '../components/Dialog';
import { FormError } from '../components/FormError';
import { describeMomentError } from './text';

/** A post's photo at full size (fetched and decrypted once, then kept on the device by the SDK), with the post's other photos a step away. */
export function PhotoViewer(props: { client: ParleyClient; post: MomentPost; index: number; author: string; onClose: () => void }) {
  const { client, post } = props;
  const [index, setIndex] = useState(props.index);
  const [url, setUrl] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const photo = post.photos.find((p) => p.index === index);
  const position = post.photos.findIndex((p) => p.index === index);

  useEffect(() => {
    let made: string | null = null;
    let live = true;
    setUrl(null);
    setError(null);
    client.moments
      .photo(post.id, index)
      .then(
        (bytes) => {
          if (!live) return;
          made = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: photo?.mimeType ?? 'image/jpeg' }));
          setUrl(made);
        },
        (err: unknown) => {
          if (live) setError(describeMomentError(err));
        },
      );
    return () => {
      live = false;
      if (made !== null) URL.revokeObjectURL(made);
    };
  }, [client, post.id, index, photo?.mimeType]);

  const title = `Photo ${position + 1} of ${post.photos.length}`;
  const go = (step: number) => {
    const next = post.photos[position + step];
    if (next !== undefined) setIndex(next.index);
  };
  return (
    <Dialog title={title} onClose={props.onClose} wide>
      {url !== null ? (
        <img className="lightbox" src={url} alt={`${title} by ${props.author}`} />
      ) : error === null ? (
        <div className="moment-loading" aria-busy="true">
          <span className="spinner" aria-label="Loading photo" />
        </div>
      ) : null}
      <FormError message={error} />
      {post.photos.length > 1 && (
        <div className="moment-viewer-nav">
          <button type="button" className="button" disabled={position <= 0} onClick={() => go(-1)}>
            Previous photo
          </button>
          <button type="button" className="button" disabled={position >= post.photos.length - 1} onClick={() => go(1)}>
            Next photo
          </button>
        </div>
      )}
    </Dialog>
  );
}
