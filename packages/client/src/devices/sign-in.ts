import { createDeviceIdentity, generateDeviceKey, importDeviceIdentity, signWithDevice } from '@parley/crypto';
import type { DeviceIdentity } from '@parley/crypto';
import { accountDeletionMessage, sessionChallengeMessage, toBase64Url } from '@parley/protocol';
import type { AuthResponse } from '@parley/protocol';
import { ClientError } from '../errors.js';
import type { AccountRecord } from '../store/records.js';
import type { HttpApi } from '../transport/http-api.js';

/**
 * The ways a device gets a session. The password alone never reads
 * anything: an existing device also signs the server's challenge with its
 * key (signIn); a new device only asks to be linked (see device-link.ts) or
 * starts the account over as a new identity (startOver).
 */

/**
 * A new session for the device this store holds: the password and a
 * signature by the stored key over a single-use challenge. A key that is
 * not the one the server registered for this device fails like a wrong
 * password (`invalid_credentials`).
 */
export async function signIn(api: HttpApi, stored: AccountRecord, username: string, password: string): Promise<{ auth: AuthResponse; identity: DeviceIdentity }> {
  const identity = await importDeviceIdentity(stored.identity);
  if (identity.userId !== stored.userId || identity.deviceId !== stored.deviceId) throw new ClientError('bad_request', 'the stored identity is for another device');
  const { challenge } = await api.sessionChallenge(username, stored.deviceId);
  const signature = await signWithDevice(identity, sessionChallengeMessage(stored.deviceId, challenge));
  const auth = await api.login({ username, password, device: { deviceId: stored.deviceId, challenge, signature: toBase64Url(signature) } });
  if (auth.userId !== stored.userId || auth.deviceId !== stored.deviceId) throw new ClientError('already_logged_in', 'this store belongs to another account');
  return { auth, identity };
}

/** Starts the account over on this device: every other device of the user is revoked; contacts see a new identity. */
export async function startOver(api: HttpApi, username: string, password: string): Promise<{ auth: AuthResponse; identity: DeviceIdentity }> {
  const key = await generateDeviceKey();
  const auth = await api.resetIdentity(username, password, { signatureKey: toBase64Url(key.signaturePublicKey) });
  return { auth, identity: createDeviceIdentity(key, { userId: auth.userId, deviceId: auth.deviceId }) };
}

export async function changePassword(api: HttpApi, currentPassword: string, newPassword: string, options: { signOutOthers?: boolean } = {}): Promise<void> {
  await api.changePassword({ currentPassword, newPassword, signOutOthers: options.signOutOthers === true });
}

/**
 * Checks the password and this device's key the way a sign-in does, without
 * changing anything: the extra session it opens is closed at once.
 */
export async function checkCredentials(api: HttpApi, stored: AccountRecord, password: string): Promise<void> {
  const { auth } = await signIn(api, stored, stored.username, password);
  try {
    await api.logout({ token: auth.token });
  } catch {
    // It expires on its own; deletion ends every session anyway.
  }
}

/**
 * Deletes the account on the server: the password AND this device's
 * signature over a single-use challenge (a signing domain of its own, so no
 * sign-in signature can be replayed for it).
 */
export async function deleteAccountOnServer(api: HttpApi, stored: AccountRecord, password: string): Promise<void> {
  const identity = await importDeviceIdentity(stored.identity);
  const { challenge } = await api.sessionChallenge(stored.username, stored.deviceId);
  const signature = await signWithDevice(identity, accountDeletionMessage(stored.userId, stored.deviceId, challenge));
  await api.deleteAccount({ password, challenge, signature: toBase64Url(signature) });
}
