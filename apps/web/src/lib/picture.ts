/** The longest side of a profile picture as the web app uploads it. */
export const PICTURE_MAX_SIDE = 512;

/** An image drawn again on this device: its encoded bytes, type and size in pixels. */
export interface EncodedImage {
  readonly bytes: Uint8Array;
  readonly mimeType: string;
  readonly width: number;
  readonly height: number;
}

/**
 * Draws `bitmap` scaled down so neither side exceeds `maxSide` (never up) and
 * encodes it as `mimeType` (JPEG or WebP; a browser that cannot write WebP
 * hands back PNG, reported as such). The quality steps down through
 * `qualities` until the bytes fit `maxBytes`; the last try is returned even
 * when it does not fit (the caller decides). Drawing again drops the file's
 * metadata, such as where a photo was taken. JPEG has no transparency: a
 * transparent image gets a white background, not a black one.
 */
export async function encodeScaled(bitmap: ImageBitmap, maxSide: number, mimeType: 'image/jpeg' | 'image/webp', qualities: readonly number[], maxBytes: number): Promise<EncodedImage> {
  const scale = Math.min(1, maxSide / Math.max(bitmap.width, bitmap.height));
  const width = Math.max(1, Math.round(bitmap.width * scale));
  const height = Math.max(1, Math.round(bitmap.height * scale));
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d');
  if (ctx === null) throw new Error('no 2d canvas');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, width, height);
  ctx.drawImage(bitmap, 0, 0, width, height);
  let out: EncodedImage = { bytes: new Uint8Array(), mimeType, width, height };
  for (const quality of qualities) {
    const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, mimeType, quality));
    if (blob === null) throw new Error('the picture could not be encoded');
    out = { bytes: new Uint8Array(await blob.arrayBuffer()), mimeType: blob.type || mimeType, width, height };
    if (out.bytes.length <= maxBytes) break;
  }
  return out;
}

/**
 * A chosen image made into a profile picture on this device: decoded,
 * scaled down so neither side exceeds 512 px (never up), re-encoded as JPEG
 * (which also drops the file's metadata, such as where a photo was taken).
 * The quality steps down until it fits `maxBytes`; what still does not fit
 * is returned as is and refused by the SDK ('too_large') before any upload.
 * Throws when the browser cannot decode the file.
 */
export async function pictureFromFile(file: Blob, maxBytes: number): Promise<Uint8Array> {
  const bitmap = await createImageBitmap(file);
  try {
    return (await encodeScaled(bitmap, PICTURE_MAX_SIDE, 'image/jpeg', [0.88, 0.78, 0.65, 0.5], maxBytes)).bytes;
  } finally {
    bitmap.close();
  }
}
