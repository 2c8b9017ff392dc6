import { z } from 'zod';
import { fromBase64Url } from './bytes.js';

/** Longest push subscription endpoint the server keeps (bytes of the URL). */
export const MAX_PUSH_ENDPOINT_LENGTH = 1024;

const b64u = (bytes: number, what: string, check: (b: Uint8Array) => boolean = () => true) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, `invalid ${what}`)
    .refine((s) => {
      const b = fromBase64Url(s);
      return b !== undefined && b.length === bytes && check(b);
    }, `invalid ${what}`);

/**
 * PUT /v1/push/subscription: the caller's device's Web Push subscription
 * (PushSubscription.toJSON() in a browser). One per device: a new one replaces
 * it. `p256dh` is the subscription's uncompressed P-256 public key (65 bytes,
 * RFC 8291), `auth` its 16-byte authentication secret, both base64url.
 */
export const PutPushSubscriptionRequestSchema = z.object({
  endpoint: z.string().min(1).max(MAX_PUSH_ENDPOINT_LENGTH).url(),
  keys: z.object({
    p256dh: b64u(65, 'p256dh key', (b) => b[0] === 0x04),
    auth: b64u(16, 'auth secret'),
  }),
});
export type PutPushSubscriptionRequest = z.input<typeof PutPushSubscriptionRequestSchema>;

/** GET /v1/push/vapid-key: the server's VAPID public key (RFC 8292), base64url of the 65-byte P-256 point: the applicationServerKey. */
export const VapidKeyResponseSchema = z.object({ publicKey: b64u(65, 'VAPID key', (b) => b[0] === 0x04) });
export type VapidKeyResponse = z.infer<typeof VapidKeyResponseSchema>;

/**
 * What every push carries, encrypted for the subscription (RFC 8291): a wake-up
 * and nothing else — no content, sender, group, count or time. The device then
 * fetches what is waiting and decides what to show.
 */
export const PUSH_WAKE_PAYLOAD = '{"t":"wake"}';
