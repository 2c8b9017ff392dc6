import assert from 'node:assert/strict';
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { toBase64Url } from '@parley/protocol';
import type { DeviceId, UserId } from '@parley/protocol';
import {
  createDeviceIdentity,
  encodeCredentialIdentity,
  exportDeviceIdentity,
  generateDeviceKey,
  IdentityError,
  importDeviceIdentity,
  parseCredentialIdentity,
  signWithDevice,
  verifyDeviceSignature,
} from './identity.js';

const serverId = () => toBase64Url(crypto.getRandomValues(new Uint8Array(16)));
const ref = () => ({ userId: serverId() as UserId, deviceId: serverId() as DeviceId });

describe('device identity', () => {
  it('encodes the credential as parley1:<userId>:<deviceId> and parses it back strictly', () => {
    const r = ref();
    const bytes = encodeCredentialIdentity(r);
    assert.equal(new TextDecoder().decode(bytes), `parley1:${r.userId}:${r.deviceId}`);
    assert.deepEqual(parseCredentialIdentity(bytes), r);
    const bad = [
      `parley2:${r.userId}:${r.deviceId}`,
      `parley1:${r.userId}`,
      `parley1:${r.userId}:${r.deviceId}:x`,
      `parley1:${r.userId}:short`,
      `parley1:${r.userId}:${r.deviceId} `,
      `PARLEY1:${r.userId}:${r.deviceId}`,
      '',
    ];
    for (const b of bad) assert.throws(() => parseCredentialIdentity(new TextEncoder().encode(b)), IdentityError, b);
    assert.throws(() => parseCredentialIdentity(Uint8Array.of(0xff, 0xfe)), IdentityError);
    assert.throws(() => encodeCredentialIdentity({ userId: 'a:b' as UserId, deviceId: serverId() as DeviceId }), IdentityError);
  });

  it('never throws anything but IdentityError on arbitrary credential bytes', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 80 }), fc.string({ maxLength: 70 }).map((s) => new TextEncoder().encode(`parley1:${s}`))), (bytes) => {
        try {
          parseCredentialIdentity(bytes);
        } catch (err) {
          assert.ok(err instanceof IdentityError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('binds a generated key to a device id without exposing the private key', async () => {
    const key = await generateDeviceKey();
    assert.equal(key.signaturePublicKey.length, 32);
    const r = ref();
    const id = createDeviceIdentity(key, r);
    assert.equal(id.userId, r.userId);
    assert.equal(id.deviceId, r.deviceId);
    assert.deepEqual(parseCredentialIdentity(id.credentialIdentity), r);
    // Only public fields are visible: nothing to leak by logging.
    assert.deepEqual(Object.keys(id).sort(), ['ciphersuite', 'credentialIdentity', 'deviceId', 'signaturePublicKey', 'userId']);
    assert.ok(Object.isFrozen(id));
    assert.throws(() => createDeviceIdentity({ ciphersuite: 1, signaturePublicKey: new Uint8Array(32) }, r), IdentityError);
  });

  it('exports and imports an identity for the local store, verifying the key pair', async () => {
    const id = createDeviceIdentity(await generateDeviceKey(), ref());
    const exported = exportDeviceIdentity(id);
    const back = await importDeviceIdentity(exported);
    assert.equal(back.userId, id.userId);
    assert.equal(back.deviceId, id.deviceId);
    assert.deepEqual(back.signaturePublicKey, id.signaturePublicKey);
    assert.deepEqual(exportDeviceIdentity(back), exported);

    const other = createDeviceIdentity(await generateDeviceKey(), ref());
    // Splice another device's public key in front of this private key: caught by the self-test.
    const otherExport = exportDeviceIdentity(other);
    const pubOffset = 3 + 1 + 2 + 4 + 22 + 4 + 22;
    const spliced = exported.slice();
    spliced.set(otherExport.subarray(pubOffset, pubOffset + 4 + 32), pubOffset);
    await assert.rejects(importDeviceIdentity(spliced), (err: unknown) => err instanceof IdentityError && err.code === 'key_mismatch');

    await assert.rejects(importDeviceIdentity(exported.subarray(0, exported.length - 1)), (err: unknown) => err instanceof IdentityError && err.code === 'malformed_export');
    await assert.rejects(importDeviceIdentity(Uint8Array.of(...exported, 0)), (err: unknown) => err instanceof IdentityError && err.code === 'malformed_export');
    const wrongSuite = exported.slice();
    wrongSuite[5] = 99;
    await assert.rejects(importDeviceIdentity(wrongSuite), (err: unknown) => err instanceof IdentityError && err.code === 'unsupported_ciphersuite');
  });

  it('signs bytes with the device key: the public key verifies it (also as plain Ed25519), for that message only', async () => {
    const key = await generateDeviceKey();
    const id = createDeviceIdentity(key, ref());
    const message = new TextEncoder().encode('parley-session-v1\ndevice\nchallenge');
    const signature = await signWithDevice(id, message);
    assert.equal(signature.length, 64);
    assert.equal(await verifyDeviceSignature(id.ciphersuite, id.signaturePublicKey, message, signature), true);
    // The unbound key signs the same way as the identity made from it.
    assert.equal(await verifyDeviceSignature(key.ciphersuite, key.signaturePublicKey, message, await signWithDevice(key, message)), true);
    // What a server does: RFC 8032 Ed25519 over the raw bytes (SPKI = fixed prefix + 32-byte key).
    const spki = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(id.signaturePublicKey)]), format: 'der', type: 'spki' });
    assert.equal(nodeVerify(null, message, spki, signature), true);

    const other = message.slice();
    other[other.length - 1] = (other.at(-1) ?? 0) ^ 1;
    assert.equal(await verifyDeviceSignature(id.ciphersuite, id.signaturePublicKey, other, signature), false, 'another message');
    assert.equal(nodeVerify(null, other, spki, signature), false);
    const otherKey = createDeviceIdentity(await generateDeviceKey(), ref());
    assert.equal(await verifyDeviceSignature(id.ciphersuite, otherKey.signaturePublicKey, message, signature), false, 'another key');
    assert.equal(await verifyDeviceSignature(id.ciphersuite, id.signaturePublicKey, message, signature.subarray(1)), false, 'truncated');
    // Only identities made by this package can sign (the private key never sits on the object).
    await assert.rejects(signWithDevice({ ciphersuite: 1, signaturePublicKey: id.signaturePublicKey }, message), IdentityError);
  });
});
