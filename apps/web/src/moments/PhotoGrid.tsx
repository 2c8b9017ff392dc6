import { useEffect, useState } from 'react';
import type { MomentPhoto } from '@parley/client';

/** Blob URLs of the thumbnails, made when shown and revoked when the row goes away. */
function useThumbnailUrls(photos: readonly MomentPhoto[]): readonly (string | null)[] {
  const [urls, setUrls] = useState<readonly (string | null)[]>(() => photos.map(() => null));
  useEffect(() => {
    const made = photos.map((p) => (p.thumbnail === null ? null : URL.createObjectURL(new Blob([p.thumbnail.data as Uint8Array<ArrayBuffer>], { type: p.thumbnail.mimeType }))));
    setUrls(made);
    return () => {
      for (const u of made) if (u !== null) URL.revokeObjectURL(u);
    };
  }, [photos]);
  return urls;
}

/**
 * A post's photos as thumbnails (carried in the post itself): one shown
 * larger in its own proportions, several in a grid of squares. A click opens
 * the full photo.
 */
export function PhotoGrid(props: { photos: readonly MomentPhoto[]; author: string; onOpen: (index: number) => void }) {
  const urls = useThumbnailUrls(props.photos);
  const { photos } = props;
  if (photos.length === 0) return null;
  const single = photos.length === 1 ? photos[0] : undefined;
  const layout = single !== undefined ? 'single' : photos.length === 4 ? 'four' : 'many';
  return (
    <ul className={`moment-photos moment-photos-${layout}`} aria-label="Photos">
      {photos.map((p, i) => {
        const url = urls[i] ?? null;
        const label = `Photo ${i + 1} of ${photos.length} by ${props.author}`;
        return (
          <li key={p.index}>
            <button
              type="button"
              className="moment-photo"
              aria-label={`Open photo ${i + 1} of ${photos.length}`}
              onClick={() => props.onOpen(p.index)}
              style={single !== undefined ? { aspectRatio: `${Math.max(1, p.width)} / ${Math.max(1, p.height)}` } : undefined}
            >
              {url !== null ? <img src={url} alt={label} draggable={false} /> : <span className="moment-photo-missing">{label}</span>}
            </button>
          </li>
        );
      })}
    </ul>
  );
}
