/** The longest side of a profile picture as the web app uploads it. */
export const PICTURE_MAX_SIDE = 512;

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
    const scale = Math.min(1, PICTURE_MAX_SIDE / Math.max(bitmap.width, bitmap.height));
    const width = Math.max(1, Math.round(bitmap.width * scale));
    const height = Math.max(1, Math.round(bitmap.height * scale));
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext('2d');
    if (ctx === null) throw new Error('no 2d canvas');
    // JPEG has no transparency: a transparent PNG gets a white background, not a black one.
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, width, height);
    ctx.drawImage(bitmap, 0, 0, width, height);
    let bytes = new Uint8Array();
    for (const quality of [0.88, 0.78, 0.65, 0.5]) {
      const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/jpeg', quality));
      if (blob === null) throw new Error('the picture could not be encoded');
      bytes = new Uint8Array(await blob.arrayBuffer());
      if (bytes.length <= maxBytes) break;
    }
    return bytes;
  } finally {
    bitmap.close();
  }
}
