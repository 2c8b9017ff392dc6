import { useEffect, useState } from 'react';
import { ClientError, type Message, type ParleyClient } from '@parley/client';
import { formatBytes } from '../lib/format';
import { Icon } from './Dialog';

/**
 * Decrypted attachments and voice messages, as object URLs, for this page's
 * lifetime. The client SDK reads the copy this device keeps (IndexedDB)
 * first, else fetches the file encrypted and decrypts it in the browser.
 */
const cache = new Map<string, Promise<string>>();

/** Shown when neither this device nor the server has the file any more. */
export const GONE_TEXT = 'No longer available on the server';

/** True when the file is gone for good: this device did not keep it and the server deleted it. */
export function isGone(err: unknown): boolean {
  return err instanceof ClientError && err.code === 'blob_gone';
}

export function attachmentUrl(client: ParleyClient, message: Message): Promise<string> {
  const c = message.content;
  if (c.type !== 'attachment' && c.type !== 'voice') return Promise.reject(new Error('not an attachment'));
  // Voice messages carry an audio type the content schema checked; anything else that is not an inline image is a download.
  const type = c.type === 'voice' ? c.mimeType : safeMime(c.mimeType);
  let p = cache.get(c.blob.digest);
  if (p === undefined) {
    p = client.attachment(message).then((bytes) => URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type })));
    p.catch(() => cache.delete(c.blob.digest));
    cache.set(c.blob.digest, p);
  }
  return p;
}

/** Forget every decrypted attachment (sign out). */
export function clearAttachmentCache(): void {
  for (const p of cache.values()) void p.then((u) => URL.revokeObjectURL(u), () => undefined);
  cache.clear();
}

/** Only inert image types are rendered inline; everything else is offered as a download. */
const INLINE_IMAGES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif']);

export function isInlineImage(mime: string): boolean {
  return INLINE_IMAGES.has(mime.toLowerCase());
}

function safeMime(mime: string): string {
  return isInlineImage(mime) ? mime.toLowerCase() : 'application/octet-stream';
}

export function AttachmentView(props: { client: ParleyClient; message: Message; onOpenImage: (url: string, name: string) => void }) {
  const c = props.message.content;
  const [url, setUrl] = useState<string | null>(null);
  const [failed, setFailed] = useState<'gone' | 'failed' | null>(null);
  const image = c.type === 'attachment' && isInlineImage(c.mimeType);

  useEffect(() => {
    if (!image) return;
    let live = true;
    attachmentUrl(props.client, props.message).then(
      (u) => live && setUrl(u),
      (err: unknown) => live && setFailed(isGone(err) ? 'gone' : 'failed'),
    );
    return () => {
      live = false;
    };
  }, [image, props.client, props.message]);

  if (c.type !== 'attachment') return null;

  if (image) {
    return (
      <div className="attachment-image">
        {url !== null ? (
          <button type="button" className="image-button" onClick={() => props.onOpenImage(url, c.fileName)} aria-label={`Open image ${c.fileName}`}>
            <img src={url} alt={c.fileName} />
          </button>
        ) : (
          <div
            className={`image-placeholder${failed !== null ? ' failed' : ''}`}
            role="img"
            aria-label={failed === 'gone' ? `${c.fileName}: ${GONE_TEXT}` : failed === 'failed' ? `${c.fileName} could not be loaded` : `Loading ${c.fileName}`}
          >
            {failed === null ? <span className="spinner" /> : <Icon name="alert" />}
            {failed === 'gone' && <span className="muted">{GONE_TEXT}</span>}
          </div>
        )}
      </div>
    );
  }

  async function download() {
    if (c.type !== 'attachment') return;
    try {
      const u = await attachmentUrl(props.client, props.message);
      const a = document.createElement('a');
      a.href = u;
      a.download = c.fileName;
      a.rel = 'noopener';
      a.click();
    } catch (err) {
      setFailed(isGone(err) ? 'gone' : 'failed');
    }
  }

  return (
    <div className="attachment-file">
      <Icon name="file" size={28} />
      <span className="file-meta">
        <span className="file-name" dir="auto">
          {c.fileName}
        </span>
        <span className="muted">{failed === 'gone' ? GONE_TEXT : failed === 'failed' ? 'Could not download' : formatBytes(c.blob.size)}</span>
      </span>
      <button type="button" className="icon-button" aria-label={`Download ${c.fileName}`} onClick={() => void download()}>
        <Icon name="download" />
      </button>
    </div>
  );
}
