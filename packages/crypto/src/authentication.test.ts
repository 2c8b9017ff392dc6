import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toBase64Url } from '@parley/protocol';
import type { DeviceId, UserId } from '@parley/protocol';
import { createDeviceAuthenticator, CredentialRejectedError } from './authentication.js';
import type { CredentialRejectionReason, DeviceDirectory } from './authentication.js';
import { encodeCredentialIdentity } from './identity.js';

const serverId = () => toBase64Url(crypto.getRandomValues(new Uint8Array(16)));

describe('device authentication service', () => {
  const userId = serverId() as UserId;
  const deviceId = serverId() as DeviceId;
  const key = crypto.getRandomValues(new Uint8Array(32));
  const directory: DeviceDirectory = (u, d, k) => u === userId && d === deviceId && k.every((b, i) => b === key[i]) && k.length === key.length;
  const auth = createDeviceAuthenticator(directory);
  const basic = (identity: Uint8Array) => ({ credentialType: 'basic', identity });

  async function rejected(p: Promise<unknown>, reason: CredentialRejectionReason) {
    await assert.rejects(p, (err: unknown) => err instanceof CredentialRejectedError && err.reason === reason);
  }

  it('accepts a known device with its registered key', async () => {
    const device = await auth.authenticate(basic(encodeCredentialIdentity({ userId, deviceId })), key);
    assert.equal(device.userId, userId);
    assert.equal(device.deviceId, deviceId);
  });

  it('rejects unknown devices, mismatching keys, malformed and non-basic credentials', async () => {
    await rejected(auth.authenticate(basic(encodeCredentialIdentity({ userId, deviceId: serverId() as DeviceId })), key), 'unknown_device');
    await rejected(auth.authenticate(basic(encodeCredentialIdentity({ userId: serverId() as UserId, deviceId })), key), 'unknown_device');
    await rejected(auth.authenticate(basic(encodeCredentialIdentity({ userId, deviceId })), new Uint8Array(32)), 'unknown_device');
    await rejected(auth.authenticate(basic(new TextEncoder().encode('alice')), key), 'malformed_credential');
    await rejected(auth.authenticate({ credentialType: 'x509' }, key), 'unsupported_credential_type');
  });

  it('reports which device was rejected, and a failing directory as a rejection', async () => {
    const other = serverId() as DeviceId;
    await assert.rejects(auth.authenticate(basic(encodeCredentialIdentity({ userId, deviceId: other })), key), (err: unknown) => {
      assert.ok(err instanceof CredentialRejectedError);
      assert.equal(err.device?.deviceId, other);
      return true;
    });
    const broken = createDeviceAuthenticator(() => Promise.reject(new Error('offline')));
    await rejected(broken.authenticate(basic(encodeCredentialIdentity({ userId, deviceId })), key), 'directory_error');
  });
});
