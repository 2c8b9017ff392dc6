import { encodeFrame, MAX_TYPING_BYTES, MlsFramingError, ParleyError, readMlsFraming, toBase64Url, type TypingFrame } from '@parley/protocol';
import type { AppContext } from '../context.js';
import type { Sender } from './delivery.js';

/** Typing frames a device may send per second (sustained) and in a burst; the excess is dropped without a reply. */
export const TYPING_PER_SECOND = 2;
export const TYPING_BURST = 5;

export type TypingOutcome = 'forwarded' | 'dropped';

/**
 * Forwards a typing frame to the group's other member devices that are
 * connected right now, on any server process (through the bus, as an
 * `ephemeral` event a connection writes only while it is live). Nothing is
 * stored, nothing is acknowledged, nothing is delivered later: a device
 * that is offline or still replaying its backlog never sees it. The payload
 * stays opaque: only its MLS framing is read (an application message of
 * this group), never logged.
 *
 * Refusals a client can act on (too large, not MLS, not a member) throw a
 * ParleyError; the rate limit drops silently (`dropped`), so a chatty client
 * costs the server one bucket lookup per excess frame.
 */
export async function forwardTyping(ctx: AppContext, sender: Sender, frame: TypingFrame, payload: Uint8Array): Promise<TypingOutcome> {
  if (payload.length === 0) throw new ParleyError('bad_request', 'empty typing message');
  if (payload.length > MAX_TYPING_BYTES) throw new ParleyError('payload_too_large', `a typing message is limited to ${MAX_TYPING_BYTES} bytes`);
  let epoch: number;
  try {
    const f = readMlsFraming(payload);
    if (f.contentType !== 'application') throw new ParleyError('bad_request', 'a typing frame carries an MLS application message');
    if (toBase64Url(f.groupId) !== frame.group) throw new ParleyError('invalid_mls_message', 'MLS group id does not match the frame');
    if (f.epoch > BigInt(Number.MAX_SAFE_INTEGER)) throw new ParleyError('invalid_mls_message', 'epoch out of range');
    epoch = Number(f.epoch);
  } catch (err) {
    if (err instanceof MlsFramingError) throw new ParleyError('invalid_mls_message', `not an MLS group message: ${err.message}`, { cause: err });
    throw err;
  }
  if (!ctx.limiter.take(`typing:${sender.deviceId}`, TYPING_PER_SECOND, TYPING_BURST)) return 'dropped';
  const devices = await ctx.storage.groupDevices(frame.group);
  // Non-members learn nothing, not even whether the group exists.
  if (!devices.includes(sender.deviceId)) throw new ParleyError('not_member', 'not a member of this group');
  const others = devices.filter((d) => d !== sender.deviceId);
  if (others.length === 0) return 'forwarded';
  const out = encodeFrame({ t: 'typing', group: frame.group, epoch }, [payload]);
  try {
    await ctx.bus.publish(others, { type: 'ephemeral', frame: out });
  } catch (err) {
    // Best effort by definition: a lost typing indicator is not worth a retry.
    ctx.logger.debug({ event: 'bus.typing_failed', devices: others.length, error: err instanceof Error ? err.message : String(err) }, 'typing not forwarded');
  }
  return 'forwarded';
}
