import {
  checkUsername,
  encodeFrame,
  ParleyError,
  toBase64Url,
  type DeviceId,
  type DeviceListResponse,
  type GroupId,
  type UserDevicesResponse,
  type UserId,
} from '@parley/protocol';
import { ceilHour } from '../clock.js';
import type { AppContext } from '../context.js';
import type { UserRecord } from '../storage/storage.js';

/**
 * Devices: the user's own list, revocation, and the directory other users
 * authenticate MLS credentials against. Revoked devices stay in the directory
 * (with their key and when they were revoked) so that history verifies;
 * pending devices are never listed.
 */

export async function listOwnDevices(ctx: AppContext, userId: UserId, current: DeviceId): Promise<DeviceListResponse> {
  const devices = await ctx.storage.listDevices(userId);
  return {
    devices: devices.map((d) => ({
      id: d.id,
      encryptedName: d.name,
      signatureKey: toBase64Url(d.signatureKey),
      createdDay: d.createdDay,
      status: d.status,
      revoked: d.status === 'revoked',
      revokedAt: d.status === 'revoked' ? d.revokedAt : null,
      current: d.id === current,
    })),
  };
}

/**
 * Stores the encrypted name of one of the caller's own devices (itself, or
 * another pending or active one: the device that rotates the account key
 * re-seals the names it can read). The server cannot read it and does not
 * try: the schema checked that it is canonical base64url of bounded size.
 * Another user's, an unknown or a revoked device: not_found.
 */
export async function setDeviceName(ctx: AppContext, userId: UserId, deviceId: DeviceId, encryptedName: Uint8Array): Promise<void> {
  if (!(await ctx.storage.setDeviceName(userId, deviceId, toBase64Url(encryptedName)))) throw new ParleyError('not_found', 'no such device');
}

async function directoryOf(ctx: AppContext, user: UserRecord): Promise<UserDevicesResponse> {
  const devices = (await ctx.storage.listDevices(user.id)).filter((d) => d.status !== 'pending');
  return {
    userId: user.id,
    username: user.username,
    devices: devices.map((d) => ({
      id: d.id,
      signatureKey: toBase64Url(d.signatureKey),
      revokedAt: d.status === 'revoked' ? (d.revokedAt ?? 0) : null,
      approvedBy: d.approvedBy,
      approval: d.approval === null ? null : toBase64Url(d.approval),
    })),
  };
}

export async function userDevices(ctx: AppContext, username: string): Promise<UserDevicesResponse> {
  const name = checkUsername(username);
  const user = name.ok ? await ctx.storage.getUserByUsername(name.normalized) : undefined;
  if (!user) throw new ParleyError('not_found', 'no such user');
  return directoryOf(ctx, user);
}

export async function userDevicesById(ctx: AppContext, userId: UserId): Promise<UserDevicesResponse> {
  const user = await ctx.storage.getUserById(userId);
  if (!user) throw new ParleyError('not_found', 'no such user');
  return directoryOf(ctx, user);
}

/**
 * Live notices are best effort, like live delivery: the state they announce
 * is already stored, and a device reconciles on connect anyway.
 */
async function publishNotice(ctx: AppContext, devices: readonly DeviceId[], frame: Uint8Array): Promise<void> {
  if (devices.length === 0) return;
  try {
    await ctx.bus.publish(devices, { type: 'notice', frame });
  } catch (err) {
    ctx.logger.warn({ event: 'bus.publish_failed', devices: devices.length, error: err instanceof Error ? err.message : String(err) }, 'notice not delivered live');
  }
}

/** Pushes `devices_changed` to the user's active devices except `except`. */
export async function notifyOwnDevicesChanged(ctx: AppContext, userId: UserId, except?: DeviceId): Promise<void> {
  const others = (await ctx.storage.listDevices(userId)).filter((d) => d.status === 'active' && d.id !== except).map((d) => d.id);
  await publishNotice(ctx, others, encodeFrame({ t: 'devices_changed' }));
}

/**
 * Pushes `devices_changed { userId }` to every device of another user that
 * shares one of `groups` with the user: a device of the user was revoked, or
 * the user started over, and their conversations should be reconciled.
 */
export async function notifyContacts(ctx: AppContext, userId: UserId, groups: readonly GroupId[]): Promise<void> {
  if (groups.length === 0) return;
  const own = new Set((await ctx.storage.listDevices(userId)).map((d) => d.id));
  const targets = new Set<DeviceId>();
  for (const g of groups) for (const d of await ctx.storage.groupDevices(g)) if (!own.has(d)) targets.add(d);
  await publishNotice(ctx, [...targets], encodeFrame({ t: 'devices_changed', userId }));
}

/**
 * Revokes a device everywhere, closes its live connections on every server
 * process, and tells the user's remaining devices and the contacts it shared
 * groups with.
 */
export async function revokeDevice(ctx: AppContext, deviceId: DeviceId): Promise<void> {
  const device = await ctx.storage.getDevice(deviceId);
  if (!device) throw new ParleyError('not_found', 'no such device');
  const groups = await ctx.storage.revokeDevice(deviceId, ceilHour(ctx.clock.now()));
  try {
    await ctx.bus.publish([deviceId], { type: 'revoked' });
  } catch (err) {
    // Its connections still end at their next session re-check.
    ctx.logger.warn({ event: 'bus.publish_failed', error: err instanceof Error ? err.message : String(err) }, 'revocation not pushed live');
  }
  ctx.logger.info({ event: 'device.revoked', deviceId, groups: groups.length }, 'device revoked');
  if (device.status === 'pending') return;
  await notifyOwnDevicesChanged(ctx, device.userId, deviceId);
  await notifyContacts(ctx, device.userId, groups);
}

export async function revokeOwnDevice(ctx: AppContext, userId: UserId, deviceId: DeviceId): Promise<void> {
  const device = await ctx.storage.getDevice(deviceId);
  if (!device || device.userId !== userId) throw new ParleyError('not_found', 'no such device');
  await revokeDevice(ctx, deviceId);
}
