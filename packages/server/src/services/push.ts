import { isIP } from 'node:net';
import { ParleyError, type DeviceId, type PutPushSubscriptionRequest, type VapidKeyResponse } from '@parley/protocol';
import type { AppContext } from '../context.js';
import { StorageError } from '../storage/storage.js';

/**
 * Web Push subscriptions (docs/protocol.md, "Push"). A device registers where
 * its push service accepts pushes for it; the server then wakes it when a
 * message is stored for it while it is not connected (push/notifier.ts).
 */

export function vapidKey(ctx: AppContext): VapidKeyResponse {
  return { publicKey: ctx.push.publicKey };
}

/**
 * The server will POST to the endpoint, so only https URLs to a named host
 * are taken: no IP literal, no localhost, no credentials or port games in
 * the URL (a subscription cannot point the server at its own network by
 * address). Tests' local push service is the one exception, by configuration.
 */
function checkEndpoint(ctx: AppContext, endpoint: string): void {
  const url = new URL(endpoint);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (ctx.config.push.allowLocalHttp && url.protocol === 'http:' && host === '127.0.0.1') return;
  const named = isIP(host) === 0 && host.includes('.') && !/(^|\.)localhost\.?$/i.test(host);
  if (url.protocol !== 'https:' || !named || url.username !== '' || url.password !== '') {
    throw new ParleyError('bad_request', 'a push endpoint must be an https URL of a push service');
  }
}

export async function putSubscription(ctx: AppContext, deviceId: DeviceId, body: PutPushSubscriptionRequest): Promise<void> {
  checkEndpoint(ctx, body.endpoint);
  await ctx.storage.putPushSubscription({ deviceId, endpoint: body.endpoint, p256dh: body.keys.p256dh, auth: body.keys.auth }).catch((err: unknown) => {
    // The session resolved, so the device was active a moment ago: it was revoked meanwhile.
    if (err instanceof StorageError && err.kind === 'not_found') throw new ParleyError('unauthenticated', 'this device is no longer signed in', { cause: err });
    throw err;
  });
}

export async function deleteSubscription(ctx: AppContext, deviceId: DeviceId): Promise<void> {
  await ctx.storage.deletePushSubscription(deviceId);
}
