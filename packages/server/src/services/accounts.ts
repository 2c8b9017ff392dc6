import { createHash } from 'node:crypto';
import {
  accountDeletionMessage,
  checkUsername,
  ParleyError,
  type AuthResponse,
  type ChangePasswordRequest,
  type DeleteAccountRequest,
  type DeviceId,
  type RegisterRequest,
  type ResetIdentityRequest,
  type UserId,
} from '@parley/protocol';
import { hashPassword, newId, newToken, tokenHash, verifyPassword } from '../auth/credentials.js';
import { verifyEd25519 } from '../auth/signatures.js';
import { ceilDay, ceilHour, dayOf } from '../clock.js';
import type { AppContext } from '../context.js';
import { StorageError, type NewSession, type UserRecord } from '../storage/storage.js';
import { notifyContacts } from './devices.js';

/**
 * Accounts: registration, password checks and changes, and starting over as
 * a new identity. Passwords are only ever held to hash or verify them. A
 * password alone never opens a session on an existing device (see
 * sessions.ts) and never activates a new one (see links.ts).
 */

let dummyHash: Promise<string> | undefined;

/** Verifying against a fixed hash when the user does not exist keeps timing from revealing which names exist. */
function dummy(ctx: AppContext): Promise<string> {
  dummyHash ??= hashPassword('not-a-real-password', ctx.config.argon2);
  return dummyHash;
}

/**
 * The user with this name if the password is theirs; undefined otherwise
 * (unknown user or wrong password alike, in about the same time).
 */
export async function checkPassword(ctx: AppContext, username: string, password: string): Promise<UserRecord | undefined> {
  const name = checkUsername(username);
  const user = name.ok ? await ctx.storage.getUserByUsername(name.normalized) : undefined;
  const ok = await verifyPassword(user?.passwordHash ?? (await dummy(ctx)), password);
  return user && ok ? user : undefined;
}

export async function requirePassword(ctx: AppContext, username: string, password: string): Promise<UserRecord> {
  const user = await checkPassword(ctx, username, password);
  if (!user) throw new ParleyError('invalid_credentials', 'wrong username or password');
  return user;
}

function checkPasswordRules(password: string, normalizedName: string): void {
  if (password.normalize('NFKC').toLowerCase().includes(normalizedName)) {
    throw new ParleyError('weak_password', 'password must not contain the username');
  }
}

/** A fresh session for a device: the token goes to the client once, its hash to storage. */
export function newSession(ctx: AppContext): { token: string; session: NewSession } {
  const token = newToken();
  // Kept to the day, rounded up: a session never ends early, and its row shows only the day of the sign-in.
  return { token, session: { tokenHash: tokenHash(token), expiresAt: ceilDay(ctx.clock.now() + ctx.config.sessionSeconds) } };
}

export async function register(ctx: AppContext, req: RegisterRequest): Promise<AuthResponse> {
  const name = checkUsername(req.username);
  if (!name.ok) throw new ParleyError('invalid_username', name.reason);
  checkPasswordRules(req.password, name.normalized);
  if ((await ctx.storage.skeletonTaken(name.skeleton)) || (await ctx.storage.usernameHeld(heldNameHash(name.skeleton), ctx.clock.now()))) {
    throw new ParleyError('username_taken', 'this username, or one that looks like it, is taken');
  }
  const passwordHash = await hashPassword(req.password, ctx.config.argon2);
  const userId = newId() as UserId;
  const deviceId = newId() as DeviceId;
  const { token, session } = newSession(ctx);
  try {
    await ctx.storage.createAccount(
      { id: userId, username: name.normalized, skeleton: name.skeleton, passwordHash, createdDay: dayOf(ctx.clock.now()) },
      { id: deviceId, signatureKey: req.device.signatureKey },
      session,
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

/**
 * Re-authenticates with the current password and replaces it; with
 * `signOutOthers`, every session but the caller's ends (those devices sign in
 * again with the new password and their own keys).
 */
export async function changePassword(ctx: AppContext, userId: UserId, token: string, req: ChangePasswordRequest): Promise<void> {
  const user = await ctx.storage.getUserById(userId);
  if (!user) throw new ParleyError('unauthenticated', 'session unknown, expired or revoked');
  if (!(await verifyPassword(user.passwordHash, req.currentPassword))) throw new ParleyError('invalid_credentials', 'wrong password');
  checkPasswordRules(req.newPassword, user.username);
  const passwordHash = await hashPassword(req.newPassword, ctx.config.argon2);
  await ctx.storage.setPassword(userId, passwordHash, req.signOutOthers ? { except: tokenHash(token) } : 'none');
  if (req.signOutOthers) await recheckSessions(ctx, userId);
  ctx.logger.info({ event: 'account.password_changed', userId, signOutOthers: req.signOutOthers }, 'password changed');
}

/**
 * Tells every live connection of the user's devices to look its session up
 * now, so sessions ended by a password change close at once rather than at
 * the next periodic re-check. Best effort: the re-check still catches them.
 */
async function recheckSessions(ctx: AppContext, userId: UserId): Promise<void> {
  const devices = (await ctx.storage.listDevices(userId)).filter((d) => d.status !== 'revoked').map((d) => d.id);
  if (devices.length === 0) return;
  try {
    await ctx.bus.publish(devices, { type: 'recheck' });
  } catch (err) {
    ctx.logger.warn({ event: 'bus.publish_failed', error: err instanceof Error ? err.message : String(err) }, 'session re-check not sent');
  }
}

/** Sets a password from the operator's CLI and ends every session of the user. */
export async function resetPassword(ctx: AppContext, userId: UserId, password: string): Promise<void> {
  const user = await ctx.storage.getUserById(userId);
  if (!user) throw new ParleyError('not_found', 'no such user');
  checkPasswordRules(password, user.username);
  await ctx.storage.setPassword(userId, await hashPassword(password, ctx.config.argon2), 'all');
  await recheckSessions(ctx, userId);
  ctx.logger.info({ event: 'account.password_reset', userId }, 'password reset by the operator');
}

/**
 * Starting over, for a user who lost every device: every device of the user
 * is revoked and this one becomes the only active device, a new identity.
 * Contacts in the groups the old devices were in are told, so their clients
 * show the change in each conversation.
 */
export async function resetIdentity(ctx: AppContext, req: ResetIdentityRequest): Promise<AuthResponse> {
  const user = await requirePassword(ctx, req.username, req.password);
  const deviceId = newId() as DeviceId;
  const { token, session } = newSession(ctx);
  const now = ctx.clock.now();
  const { revoked, groups } = await ctx.storage.resetIdentity(user.id, { id: deviceId, signatureKey: req.device.signatureKey }, dayOf(now), session, ceilHour(now));
  if (revoked.length > 0) {
    try {
      await ctx.bus.publish(revoked, { type: 'revoked' });
    } catch (err) {
      ctx.logger.warn({ event: 'bus.publish_failed', devices: revoked.length, error: err instanceof Error ? err.message : String(err) }, 'revocation not pushed live');
    }
  }
  await notifyContacts(ctx, user.id, groups);
  ctx.logger.info({ event: 'account.identity_reset', userId: user.id, deviceId, revoked: revoked.length, groups: groups.length }, 'identity reset');
  return { userId: user.id, username: user.username, deviceId, token };
}

/**
 * What is kept of a deleted account's name during the cooling-off period: a
 * SHA-256 of its skeleton (look-alike names are held back too). Not the name;
 * but usernames are guessable, so whoever reads the table can test a guess.
 */
export function heldNameHash(skeleton: string): Uint8Array {
  return createHash('sha256').update(`parley-held-name-v1\n${skeleton}`).digest();
}

/**
 * Deletes the caller's account, re-authenticated like a sign-in: the
 * password AND the calling device's signature over a single-use challenge
 * (consumed whatever the outcome). Every failure is the same
 * invalid_credentials and deletes nothing. Every device is revoked (live
 * connections closed), contacts sharing a group are told (devices_changed:
 * their clients remove the devices, each conversation shows it), and the name
 * is held back for usernameHoldSeconds, after which the last rows go.
 */
export async function deleteAccount(ctx: AppContext, caller: { userId: UserId; deviceId: DeviceId }, req: DeleteAccountRequest): Promise<void> {
  const fresh = await ctx.storage.takeChallenge(tokenHash(req.challenge), caller.deviceId, ctx.clock.now());
  const user = await ctx.storage.getUserById(caller.userId);
  const passwordOk = await verifyPassword(user?.passwordHash || (await dummy(ctx)), req.password);
  const device = await ctx.storage.getDevice(caller.deviceId);
  const signed =
    device !== undefined &&
    device.userId === caller.userId &&
    device.status === 'active' &&
    verifyEd25519(device.signatureKey, accountDeletionMessage(caller.userId, caller.deviceId, req.challenge), req.signature);
  if (!user || !fresh || !passwordOk || !signed) throw new ParleyError('invalid_credentials', 'wrong password, challenge or signature');
  const name = checkUsername(user.username);
  const skeleton = name.ok ? name.skeleton : user.skeleton;
  const now = ctx.clock.now();
  // Listed before the deletion: contacts are found through the groups these devices were in.
  const { revoked, groups } = await ctx.storage.deleteAccount(user.id, ceilHour(now), { nameHash: heldNameHash(skeleton), until: now + ctx.config.usernameHoldSeconds });
  if (revoked.length > 0) {
    try {
      await ctx.bus.publish(revoked, { type: 'revoked' });
    } catch (err) {
      ctx.logger.warn({ event: 'bus.publish_failed', devices: revoked.length, error: err instanceof Error ? err.message : String(err) }, 'revocation not pushed live');
    }
  }
  await notifyContacts(ctx, user.id, groups);
  ctx.logger.info({ event: 'account.deleted', userId: user.id, revoked: revoked.length, groups: groups.length }, 'account deleted');
}
