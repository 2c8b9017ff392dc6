import { encryptAttachment, MAX_VOICE_BYTES, MAX_VOICE_DURATION_MS, MAX_WAVEFORM_SAMPLES, newContentId, VoiceContentSchema } from '@parley/crypto';
import type { AttachmentContent, MessageContent, VoiceContent } from '@parley/crypto';
import type { BlobDigest } from '@parley/protocol';
import { ClientError } from '../errors.js';
import type { HttpApi } from '../transport/http-api.js';
import type { AttachmentInput, VoiceInput } from '../types.js';

/**
 * The content of an outgoing message. An attachment or voice message is
 * encrypted with a fresh key and uploaded first; its key, nonce and digest
 * travel inside the MLS message, and the digest is listed so the server
 * keeps the blob. `media`: the plaintext bytes, for the sender to keep.
 */
export async function outgoingContent(api: HttpApi, input: string | AttachmentInput | VoiceInput): Promise<{ content: MessageContent; blobs: BlobDigest[]; media?: Uint8Array }> {
  const base = { v: 1 as const, id: newContentId(), sentAt: Date.now() };
  if (typeof input === 'string') return { content: { ...base, type: 'text', text: input }, blobs: [] };
  if ('voice' in input) {
    checkVoice(input);
    const encrypted = await encryptAttachment(input.voice);
    await api.putBlob(encrypted.digest, encrypted.ciphertext);
    const voice: VoiceContent = {
      ...base,
      type: 'voice',
      blob: { digest: encrypted.digest, key: encrypted.key, nonce: encrypted.nonce, size: input.voice.length },
      mimeType: input.mimeType,
      durationMs: input.durationMs,
      waveform: input.waveform,
    };
    return { content: voice, blobs: [encrypted.digest], media: input.voice };
  }
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
  return { content: attachment, blobs: [encrypted.digest], media: input.attachment };
}

/** A voice message within the limits of the content schema, checked before anything is encrypted or uploaded. */
function checkVoice(input: VoiceInput): void {
  const { voice, mimeType, durationMs, waveform } = input;
  if (!(voice instanceof Uint8Array) || !(waveform instanceof Uint8Array)) throw new ClientError('bad_request', 'voice and waveform are byte arrays');
  if (voice.length > MAX_VOICE_BYTES) throw new ClientError('too_large', `a voice message is at most ${MAX_VOICE_BYTES} bytes`, { detail: { maxBytes: MAX_VOICE_BYTES } });
  if (typeof durationMs === 'number' && Number.isSafeInteger(durationMs) && durationMs > MAX_VOICE_DURATION_MS) {
    throw new ClientError('too_large', `a voice message is at most ${MAX_VOICE_DURATION_MS} ms long`, { detail: { maxDurationMs: MAX_VOICE_DURATION_MS } });
  }
  if (waveform.length > MAX_WAVEFORM_SAMPLES) throw new ClientError('too_large', `a waveform has at most ${MAX_WAVEFORM_SAMPLES} samples`, { detail: { maxWaveformSamples: MAX_WAVEFORM_SAMPLES } });
  if (voice.length === 0) throw new ClientError('bad_request', 'a voice message is not empty');
  if (!VoiceContentSchema.shape.durationMs.safeParse(durationMs).success) throw new ClientError('bad_request', `durationMs is a whole number from 1 to ${MAX_VOICE_DURATION_MS}`);
  if (!VoiceContentSchema.shape.mimeType.safeParse(mimeType).success) throw new ClientError('bad_request', 'mimeType is not an audio type a voice message may have');
}
