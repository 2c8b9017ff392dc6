import { PutPushSubscriptionRequestSchema } from '@parley/protocol';
import type { ClientCore } from '../core/context.js';
import { ClientError } from '../errors.js';

/** A Web Push subscription as `PushSubscription.toJSON()` gives it (other fields are ignored). */
export interface PushSubscriptionInput {
  readonly endpoint: string;
  readonly keys: { readonly p256dh: string; readonly auth: string };
}

/**
 * Web Push wake-ups for this device (docs/protocol.md, Push). The server
 * sends each subscribed device a constant, content-free "wake" when something
 * is stored for it while it is not connected; the device then connects,
 * decrypts and decides itself what to show. Nothing about messages is ever
 * handed to the push service.
 */
export interface PushApi {
  /** The server's VAPID public key (base64url): the `applicationServerKey` for `pushManager.subscribe`. */
  vapidKey(): Promise<string>;
  /** Registers this device's subscription (replacing its previous one). Errors: bad_request (not a valid subscription). */
  subscribe(subscription: PushSubscriptionInput): Promise<void>;
  /** Deletes this device's subscription (none is fine): no more wake-ups. */
  unsubscribe(): Promise<void>;
}

export class Push implements PushApi {
  constructor(private readonly core: ClientCore) {}

  async vapidKey(): Promise<string> {
    this.core.session();
    return this.core.api.pushVapidKey();
  }

  async subscribe(subscription: PushSubscriptionInput): Promise<void> {
    this.core.session();
    const parsed = PutPushSubscriptionRequestSchema.safeParse(subscription);
    // The message names the field only: an endpoint is a capability URL and is never repeated in errors.
    if (!parsed.success) throw new ClientError('bad_request', `invalid push subscription (${parsed.error.issues.map((i) => i.path.join('.') || 'value').join(', ')})`);
    await this.core.api.putPushSubscription(parsed.data);
  }

  async unsubscribe(): Promise<void> {
    this.core.session();
    await this.core.api.deletePushSubscription();
  }
}
