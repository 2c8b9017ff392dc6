import { encodeScaled } from '../lib/picture';
import { MAX_MOMENT_PHOTO_BYTES, MAX_MOMENT_THUMBNAIL_BYTES, photoProblem } from './limits';
import type { MomentPhotoInput, MomentPhotoMime, MomentThumbnailMime } from '@parley/client';

/** The longest side of a photo as posted: large enough for a full-screen view, small enough to send quickly. */
export const PHOTO_MAX_SIDE = 2048;
/** The longest side of a thumbnail in the timeline (shown at up to about 160 CSS px, sharp at 2x). */
export const THUMBNAIL_MAX_SIDE = 320;
/** A photo ready to post, with a preview URL for the composer (revoke it when done). */
export interface PreparedPhoto {
  readonly input: MomentPhotoInput;
  readonly previewUrl: string;
  readonly name: string;
}

/**
 * A chosen file made into a photo to post, on this device: scaled down so
 * neither side exceeds 2048 px and re-encoded as JPEG (which drops the file's
 * metadata, such as where it was taken), with a WebP (or JPEG) thumbnail of
 * at most 48 KiB. A GIF is kept as it is (its animation) when it fits, with
 * a still thumbnail. Throws an Error with a message for the person when the
 * file cannot be read or does not fit.
 */
export async function preparePhoto(file: File): Promise<PreparedPhoto> {
  const problem = photoProblem(file);
  if (problem !== null) throw new Error(problem);
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new Error(`“${file.name}” is not a photo this browser can read.`);
  }
  try {
    const thumbnail = await makeThumbnail(bitmap);
    let input: MomentPhotoInput;
    if (file.type === 'image/gif' && file.size <= MAX_MOMENT_PHOTO_BYTES) {
      input = { bytes: new Uint8Array(await file.arrayBuffer()), mimeType: 'image/gif', width: bitmap.width, height: bitmap.height, thumbnail };
    } else {
      const photo = await encodeScaled(bitmap, PHOTO_MAX_SIDE, 'image/jpeg', [0.86, 0.75, 0.6], MAX_MOMENT_PHOTO_BYTES);
      if (photo.bytes.length > MAX_MOMENT_PHOTO_BYTES) throw new Error(`“${file.name}” is too large even when scaled down.`);
      input = { bytes: photo.bytes, mimeType: photo.mimeType as MomentPhotoMime, width: photo.width, height: photo.height, thumbnail };
    }
    const previewUrl = URL.createObjectURL(new Blob([thumbnail.data as Uint8Array<ArrayBuffer>], { type: thumbnail.mimeType }));
    return { input, previewUrl, name: file.name };
  } finally {
    bitmap.close();
  }
}

async function makeThumbnail(bitmap: ImageBitmap): Promise<{ mimeType: MomentThumbnailMime; data: Uint8Array }> {
  for (const side of [THUMBNAIL_MAX_SIDE, 200, 120]) {
    const webp = await encodeScaled(bitmap, side, 'image/webp', [0.72, 0.55, 0.4], MAX_MOMENT_THUMBNAIL_BYTES);
    // A browser that cannot write WebP hands back PNG: JPEG is smaller then.
    const t = webp.mimeType === 'image/webp' ? webp : await encodeScaled(bitmap, side, 'image/jpeg', [0.72, 0.55, 0.4], MAX_MOMENT_THUMBNAIL_BYTES);
    if (t.bytes.length <= MAX_MOMENT_THUMBNAIL_BYTES) return { mimeType: t.mimeType as MomentThumbnailMime, data: t.bytes };
  }
  throw new Error('no thumbnail fits');
}
