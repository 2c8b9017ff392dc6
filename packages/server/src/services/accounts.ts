import {
  encodeFrame,
  checkUsername,
  ParleyError,
  toBase64Url,
  type AuthResponse,
  type DeviceId,
  type DeviceListResponse,
  type LoginRequest,
  type RegisterRequest,
  type UserDevicesResponse,
  type UserId,
} from '@parley/protocol';
import { hashPassword, newId, newToken, tokenHash, verifyPassword } from '../auth/credentials.js';
import { ceilHour, dayOf } from '../clock.js';
import type { AppContext } from '../context.js';
import { StorageError } from '../storage/storage.js';

/** Accounts, devices and sessions. Passwords are only ever held to hash or verify them. */

let dummyHash: Promise<string> | undefined;

/** Verifying against a fixed hash when the user does not exist keeps timing from revealing which names exist. */
function dummy(ctx: AppContext): Promise<string> {
  dummyHash ??= hashPassword('not-a-real-password', ctx.config.argon2);
  return dummyHash;
}

export async function register(ctx: AppContext, req: RegisterRequest): Promise<AuthResponse> {
  const name = checkUsername(req.username);
  if (!name.ok) throw new ParleyError('invalid_username', name.reason);
  if (req.password.normalize('NFKC').toLowerCase().includes(name.normalized)) {
    throw new ParleyError('weak_password', 'password must not contain the username');
  }
  if (await ctx.storage.skeletonTaken(name.skeleton)) {
    throw new ParleyError('username_taken', 'this username, or one that looks like it, is taken');
  }
  const passwordHash = await hashPassword(req.password, ctx.config.argon2);
  const userId = newId() as UserId;
  const deviceId = newId() as DeviceId;
  const token = newToken();
  const now = ctx.clock.now();
  try {
    await ctx.storage.createAccount(
      { id: userId, username: name.normalized, skeleton: name.skeleton, passwordHash, createdDay: dayOf(now) },
      { id: deviceId, name: req.device.name, signatureKey: req.device.signatureKey },
      { tokenHash: tokenHash(token), expiresAt: ceilHour(now + ctx.config.sessionSeconds) },
    );
  } catch (err) {
    if (err instanceof StorageError && err.kind === 'username_taken') {
      throw new ParleyError('username_taken', 'this username, or one that looks like it, is taken', { cause: err });
    }
    throw err;
  }
  ctx.logger.info({ event: 'account.registered', userId, deviceId }, 'account registered');
  return { userId, username: name.normalized, deviceId, token };
}

export async function login(ctx: AppContext, req: LoginRequest): Promise<AuthResponse> {
  const name = checkUsername(req.username);
  const user = name.ok ? await ctx.storage.getUserByUsername(name.normalized) : undefined;
  const ok = await verifyPassword(user?.passwordHash ?? (await dummy(ctx)), req.password);
  if (!user || !ok) throw new ParleyError('invalid_credentials', 'wrong username or password');
  const token = newToken();
  const now = ctx.clock.now();
  const session = { tokenHash: tokenHash(token), expiresAt: ceilHour(now + ctx.config.sessionSeconds) };
  let deviceId: DeviceId;
  if ('deviceId' in req.device) {
    deviceId = req.device.deviceId;
    await ctx.storage.addSession(user.id, deviceId, session);
  } else {
    deviceId = newId() as DeviceId;
    await ctx.storage.addDevice(user.id, { id: deviceId, name: req.device.name, signatureKey: req.device.signatureKey }, dayOf(now), session);
  }
  ctx.logger.info({ event: 'session.created', userId: user.id, deviceId }, 'signed in');
  return { userId: user.id, username: user.username, deviceId, token };
}

export async function logout(ctx: AppContext, token: string): Promise<void> {
  await ctx.storage.deleteSession(tokenHash(token));
}

export async function listOwnDevices(ctx: AppContext, userId: UserId, current: DeviceId): Promise<DeviceListResponse> {
  const devices = await ctx.storage.listDevices(userId);
  return {
    devices: devices.map((d) => ({
      id: d.id,
      name: d.name,
      signatureKey: toBase64Url(d.signatureKey),
      createdDay: d.createdDay,
      revoked: d.revoked,
      current: d.id === current,
    })),
  };
}

export async function revokeOwnDevice(ctx: AppContext, userId: UserId, deviceId: DeviceId): Promise<void> {
  const device = await ctx.storage.getDevice(deviceId);
  if (!device || device.userId !== userId) throw new ParleyError('not_found', 'no such device');
  await revokeDevice(ctx, deviceId);
  await notifyDevicesChanged(ctx, userId, deviceId);
}

/** Pushes `devices_changed` to the user's other active devices (live ones get it now; others sync on connect anyway). */
export async function notifyDevicesChanged(ctx: AppContext, userId: UserId, changed: DeviceId): Promise<void> {
  const others = (await ctx.storage.listDevices(userId)).filter((d) => !d.revoked && d.id !== changed).map((d) => d.id);
  if (others.length > 0) await ctx.bus.publish(others, { type: 'notice', frame: encodeFrame({ t: 'devices_changed' }) });
}

/** Revokes a device everywhere and closes its live connections on every server process. */
export async function revokeDevice(ctx: AppContext, deviceId: DeviceId): Promise<void> {
  const groups = await ctx.storage.revokeDevice(deviceId);
  await ctx.bus.publish([deviceId], { type: 'revoked' });
  ctx.logger.info({ event: 'device.revoked', deviceId, groups: groups.length }, 'device revoked');
}

export async function userDevices(ctx: AppContext, username: string): Promise<UserDevicesResponse> {
  const name = checkUsername(username);
  const user = name.ok ? await ctx.storage.getUserByUsername(name.normalized) : undefined;
  if (!user) throw new ParleyError('not_found', 'no such user');
  const devices = (await ctx.storage.listDevices(user.id)).filter((d) => !d.revoked);
  return {
    userId: user.id,
    username: user.username,
    devices: devices.map((d) => ({ id: d.id, signatureKey: toBase64Url(d.signatureKey) })),
  };
}
