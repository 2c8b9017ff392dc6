import { AttachmentError, decryptAttachment } from '@parley/crypto';
import type { ClientCore } from '../core/context.js';
import { ClientError } from '../errors.js';
import { StoreBatch } from '../store/records.js';
import type { CachedProfile, ProfileRecords } from './profile-records.js';

/**
 * Downloads and decrypts the picture a cached profile names (an encrypted
 * blob under the key in the profile), and keeps it on the device while the
 * profile still shows it. A picture the server no longer has is null; one
 * that does not decrypt to what the profile says is reported
 * (`profile_invalid`) and null.
 */
export async function downloadPicture(core: ClientCore, records: ProfileRecords, cached: CachedProfile): Promise<Uint8Array | null> {
  const pic = cached.picture;
  if (pic === null) return null;
  let ciphertext: Uint8Array;
  try {
    ciphertext = await core.api.getBlob(pic.digest);
  } catch (err) {
    if (err instanceof ClientError && err.server && err.code === 'not_found') return null;
    throw err;
  }
  let bytes: Uint8Array;
  try {
    bytes = await decryptAttachment(ciphertext, { key: pic.key, nonce: pic.nonce, digest: pic.digest });
    if (bytes.length !== pic.size) throw new AttachmentError('invalid_parameters', 'the picture’s size differs from its profile');
  } catch (err) {
    if (!(err instanceof AttachmentError)) throw err;
    core.emitError('profile_invalid', new ClientError('bad_response', `a profile picture could not be read (${err.code})`, { cause: err, detail: { userId: cached.userId } }));
    return null;
  }
  // Kept only while the profile still shows this picture.
  if ((await records.cached(cached.userId))?.picture?.digest === pic.digest && !core.isClosed()) {
    const batch = new StoreBatch();
    records.putPicture(batch, cached.userId, pic.digest, bytes);
    await core.repo.commit(batch);
  }
  return bytes;
}
