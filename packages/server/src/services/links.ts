import {
  LINK_TTL_SECONDS,
  linkApprovalMessage,
  newLinkCode,
  normalizeLinkCode,
  ParleyError,
  toBase64Url,
  type ApproveLinkRequest,
  type DeviceId,
  type LinkDeviceRequest,
  type LinkDeviceResponse,
  type LinkStatusResponse,
  type PendingDeviceResponse,
  type UserId,
} from '@parley/protocol';
import { newId, tokenHash } from '../auth/credentials.js';
import { verifyEd25519 } from '../auth/signatures.js';
import { dayOf } from '../clock.js';
import type { AppContext } from '../context.js';
import { StorageError, type PendingLinkRecord } from '../storage/storage.js';
import { newSession, requirePassword } from './accounts.js';
import { notifyOwnDevicesChanged, revokeDevice } from './devices.js';

/**
 * Linking a new device, as in Signal and WhatsApp: the password creates a
 * PENDING device (and a session that reaches only the link status), and only
 * an existing active device of the same user, signing the new device's exact
 * key, activates it. The code is stored only as a hash.
 */

export async function createLink(ctx: AppContext, req: LinkDeviceRequest): Promise<LinkDeviceResponse> {
  const user = await requirePassword(ctx, req.username, req.password);
  const deviceId = newId() as DeviceId;
  const code = newLinkCode();
  const now = ctx.clock.now();
  const expiresAt = now + LINK_TTL_SECONDS;
  const { token, session } = newSession(ctx);
  await ctx.storage.addPendingDevice(user.id, { id: deviceId, signatureKey: req.device.signatureKey }, dayOf(now), session, {
    codeHash: tokenHash(code),
    expiresAt,
  });
  ctx.logger.info({ event: 'device.link_requested', userId: user.id, deviceId }, 'new device waiting for approval');
  return { userId: user.id, username: user.username, deviceId, token, code, expiresAt };
}

/** Polled by the pending device. Rejected or expired: unauthenticated (its session is gone with it). */
export async function linkStatus(ctx: AppContext, deviceId: DeviceId): Promise<LinkStatusResponse> {
  const now = ctx.clock.now();
  const device = await ctx.storage.getDevice(deviceId);
  if (device?.status === 'active') return { state: 'approved', expiresAt: now };
  const expiresAt = device?.status === 'pending' ? await ctx.storage.linkExpiry(deviceId, now) : undefined;
  if (expiresAt === undefined) throw new ParleyError('unauthenticated', 'the link was rejected or has expired');
  return { state: 'pending', expiresAt };
}

async function findLink(ctx: AppContext, userId: UserId, code: string): Promise<PendingLinkRecord> {
  const normalized = normalizeLinkCode(code);
  const link = normalized === undefined ? undefined : await ctx.storage.getPendingLink(userId, tokenHash(normalized), ctx.clock.now());
  if (!link) throw new ParleyError('not_found', 'no such link, or it has expired');
  return link;
}

/** What an existing device is about to approve: only ever shown to the same user's active devices. */
export async function inspectLink(ctx: AppContext, userId: UserId, code: string): Promise<PendingDeviceResponse> {
  const { device, expiresAt } = await findLink(ctx, userId, code);
  return { deviceId: device.id, signatureKey: toBase64Url(device.signatureKey), createdDay: device.createdDay, expiresAt };
}

/**
 * Activates the pending device if the approving device signed exactly this
 * user, device and key with its own registered key; then the user's devices
 * are told, so they add it to their conversations.
 */
export async function approveLink(ctx: AppContext, userId: UserId, approver: DeviceId, code: string, req: ApproveLinkRequest): Promise<void> {
  const { device } = await findLink(ctx, userId, code);
  if (device.id !== req.deviceId) throw new ParleyError('not_found', 'no such link, or it has expired');
  const approving = await ctx.storage.getDevice(approver);
  const signature = req.signature;
  if (!approving || approving.userId !== userId || approving.status !== 'active') throw new ParleyError('forbidden', 'this device cannot approve');
  if (!verifyEd25519(approving.signatureKey, linkApprovalMessage(userId, device.id, device.signatureKey), signature)) {
    throw new ParleyError('forbidden', 'the approval signature does not verify under this device’s key');
  }
  try {
    await ctx.storage.approveDevice(device.id, approver, ctx.clock.now(), signature);
  } catch (err) {
    if (err instanceof StorageError && err.kind === 'not_found') throw new ParleyError('not_found', 'no such link, or it has expired', { cause: err });
    throw err;
  }
  ctx.logger.info({ event: 'device.link_approved', userId, deviceId: device.id, approvedBy: approver }, 'new device approved');
  await notifyOwnDevicesChanged(ctx, userId, device.id);
}

/** Rejecting a link revokes the pending device (and ends its session). */
export async function rejectLink(ctx: AppContext, userId: UserId, code: string): Promise<void> {
  const { device } = await findLink(ctx, userId, code);
  await revokeDevice(ctx, device.id);
  ctx.logger.info({ event: 'device.link_rejected', userId, deviceId: device.id }, 'new device rejected');
}
