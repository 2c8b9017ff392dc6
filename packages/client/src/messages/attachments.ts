import { decryptAttachment, encryptAttachment, newContentId } from '@parley/crypto';
import type { AttachmentContent, MessageContent } from '@parley/crypto';
import type { BlobDigest } from '@parley/protocol';
import { ClientError } from '../errors.js';
import type { HttpApi } from '../transport/http-api.js';
import type { AttachmentInput } from '../types.js';

/**
 * The content of an outgoing message. An attachment is encrypted with a
 * fresh key and uploaded first; its key, nonce and digest travel inside the
 * MLS message, and the digest is listed so the server keeps the blob.
 */
export async function outgoingContent(api: HttpApi, input: string | AttachmentInput): Promise<{ content: MessageContent; blobs: BlobDigest[] }> {
  const base = { v: 1 as const, id: newContentId(), sentAt: Date.now() };
  if (typeof input === 'string') return { content: { ...base, type: 'text', text: input }, blobs: [] };
  const encrypted = await encryptAttachment(input.attachment);
  await api.putBlob(encrypted.digest, encrypted.ciphertext);
  const attachment: AttachmentContent = {
    ...base,
    type: 'attachment',
    blob: { digest: encrypted.digest, key: encrypted.key, nonce: encrypted.nonce, size: input.attachment.length },
    mimeType: input.mimeType,
    fileName: input.fileName,
    ...(input.caption === undefined ? {} : { caption: input.caption }),
  };
  return { content: attachment, blobs: [encrypted.digest] };
}

/** Downloads an attachment and checks it against the digest, key and size in the message. */
export async function downloadAttachment(api: HttpApi, content: AttachmentContent): Promise<Uint8Array> {
  const ciphertext = await api.getBlob(content.blob.digest);
  const bytes = await decryptAttachment(ciphertext, { key: content.blob.key, nonce: content.blob.nonce, digest: content.blob.digest });
  if (bytes.length !== content.blob.size) throw new ClientError('bad_request', 'attachment size differs from the message');
  return bytes;
}
