import { encodeFrame, MAX_REJOIN_BYTES, ParleyError, type RejoinFrame } from '@parley/protocol';
import type { AppContext } from '../context.js';
import type { Sender } from './delivery.js';

/** Rejoin requests a device may send per second (sustained) and in a burst; the excess is refused. */
export const REJOIN_PER_SECOND = 0.2;
export const REJOIN_BURST = 3;

/**
 * Forwards a rejoin request (a device whose MLS state for the group is broken
 * asks to be re-added) to the group's other member devices that are connected
 * right now, like a typing frame: nothing is stored, acknowledged or delivered
 * later (the asking device retries). The payload is the device's signed
 * request; the server neither reads nor logs it. It adds the sender's user and
 * device id as it authenticated them; members check the signature against
 * the directory, so the server cannot forge a request for another device.
 */
export async function forwardRejoin(ctx: AppContext, sender: Sender, frame: RejoinFrame, payload: Uint8Array): Promise<void> {
  if (payload.length === 0) throw new ParleyError('bad_request', 'empty rejoin request');
  if (payload.length > MAX_REJOIN_BYTES) throw new ParleyError('payload_too_large', `a rejoin request is limited to ${MAX_REJOIN_BYTES} bytes`);
  if (!ctx.limiter.take(`rejoin:${sender.deviceId}`, REJOIN_PER_SECOND, REJOIN_BURST)) throw new ParleyError('rate_limited', 'too many rejoin requests');
  const devices = await ctx.storage.groupDevices(frame.group);
  // Non-members learn nothing, not even whether the group exists.
  if (!devices.includes(sender.deviceId)) throw new ParleyError('not_member', 'not a member of this group');
  const others = devices.filter((d) => d !== sender.deviceId);
  if (others.length === 0) return;
  const out = encodeFrame({ t: 'rejoin', group: frame.group, user: sender.userId, device: sender.deviceId }, [payload]);
  try {
    await ctx.bus.publish(others, { type: 'ephemeral', frame: out });
  } catch (err) {
    // The asking device retries with backoff.
    ctx.logger.debug({ event: 'bus.rejoin_failed', devices: others.length, error: err instanceof Error ? err.message : String(err) }, 'rejoin not forwarded');
  }
}
