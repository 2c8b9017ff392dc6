import { randomBytes } from 'node:crypto';
import {
  ParleyError,
  sessionChallengeMessage,
  type AuthResponse,
  type DeviceId,
  type LoginRequest,
  type SessionChallengeRequest,
  type SessionChallengeResponse,
} from '@parley/protocol';
import { tokenHash } from '../auth/credentials.js';
import { verifyEd25519 } from '../auth/signatures.js';
import { ceilHour } from '../clock.js';
import type { AppContext } from '../context.js';
import { StorageError } from '../storage/storage.js';
import { checkPassword, newSession } from './accounts.js';

/**
 * Sessions on existing devices. Signing in takes the password AND a
 * signature by the device's registered key over a single-use challenge, so a
 * password alone never acts as an existing device (it can only ask to link a
 * new one, see links.ts).
 */

const INVALID = 'wrong username, password, device or signature';

/**
 * Issues a challenge for any well-formed request, known user and device or
 * not, so it reveals nothing. Stored only as a hash, bound to the device id.
 */
export async function issueChallenge(ctx: AppContext, req: SessionChallengeRequest): Promise<SessionChallengeResponse> {
  const challenge = randomBytes(32).toString('base64url');
  const expiresAt = ctx.clock.now() + ctx.config.challengeSeconds;
  await ctx.storage.putChallenge(tokenHash(challenge), req.deviceId, expiresAt);
  return { challenge, expiresAt };
}

/**
 * Opens a session on an existing, active device of the user. Every failure
 * (user, password, challenge, device, signature) is the same
 * invalid_credentials, and the challenge is consumed whatever the outcome.
 */
export async function login(ctx: AppContext, req: LoginRequest): Promise<AuthResponse> {
  const { deviceId, challenge } = req.device;
  const user = await checkPassword(ctx, req.username, req.password);
  const fresh = await ctx.storage.takeChallenge(tokenHash(challenge), deviceId, ctx.clock.now());
  if (!user || !fresh) throw new ParleyError('invalid_credentials', INVALID);
  const device = await ctx.storage.getDevice(deviceId);
  const signature = req.device.signature;
  if (!device || device.userId !== user.id || device.status !== 'active' || !verifyEd25519(device.signatureKey, sessionChallengeMessage(deviceId, challenge), signature)) {
    throw new ParleyError('invalid_credentials', INVALID);
  }
  const { token, session } = newSession(ctx);
  try {
    await ctx.storage.addSession(user.id, deviceId, session);
  } catch (err) {
    // Revoked or gone in the meantime: the same answer as any other failure.
    if (err instanceof StorageError) throw new ParleyError('invalid_credentials', INVALID, { cause: err });
    throw err;
  }
  ctx.logger.info({ event: 'session.created', userId: user.id, deviceId }, 'signed in');
  return { userId: user.id, username: user.username, deviceId, token };
}

/**
 * Ends the session. A pending device signing out withdraws its link request:
 * the device is deleted with it, rather than staying around to be approved
 * while nobody waits on it.
 */
export async function logout(ctx: AppContext, caller: { token: string; deviceId: DeviceId; pending: boolean }): Promise<void> {
  if (caller.pending) {
    await ctx.storage.revokeDevice(caller.deviceId, ceilHour(ctx.clock.now()));
    return;
  }
  await ctx.storage.deleteSession(tokenHash(caller.token));
}
