import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { getCiphersuiteFromName, getCiphersuiteImpl } from 'ts-mls';
import { ciphersuiteName, DEFAULT_CIPHERSUITE, suiteImpl, withSyncHmac } from './suite.js';

describe('HMAC and HKDF computed in place', () => {
  it('give the same bytes as WebCrypto (extract, expand, mac, verifyMac)', async () => {
    const native = await getCiphersuiteImpl(getCiphersuiteFromName(ciphersuiteName(DEFAULT_CIPHERSUITE)));
    const sync = withSyncHmac(native);
    assert.notEqual((await suiteImpl(DEFAULT_CIPHERSUITE)).kdf.expand, native.kdf.expand, 'the default suite uses them');
    const bytes = (max: number) => fc.uint8Array({ minLength: 0, maxLength: max });
    await fc.assert(
      fc.asyncProperty(bytes(64), bytes(100), bytes(80), fc.integer({ min: 1, max: 255 }), async (ikm, info, data, len) => {
        // MLS extracts with a salt of the hash length or none (RFC 9420 §8); both are zero-padded HMAC keys.
        for (const salt of [new Uint8Array(0), crypto.getRandomValues(new Uint8Array(32))]) {
          assert.deepEqual(await sync.kdf.extract(salt, ikm), await native.kdf.extract(salt, ikm));
        }
        const prk = await native.kdf.extract(new Uint8Array(0), ikm);
        assert.deepEqual(await sync.kdf.expand(prk, info, len), await native.kdf.expand(prk, info, len));
        const key = ikm.length > 0 ? ikm : new Uint8Array(32);
        const mac = await native.hash.mac(key, data);
        assert.deepEqual(await sync.hash.mac(key, data), mac);
        assert.equal(await sync.hash.verifyMac(key, mac, data), true);
        const bad = Uint8Array.from(mac);
        const flip = len % bad.length;
        bad[flip] = (bad[flip] ?? 0) ^ 1;
        assert.equal(await sync.hash.verifyMac(key, bad, data), false);
        assert.equal(await sync.hash.verifyMac(key, mac.subarray(1), data), false);
      }),
      { numRuns: 200 },
    );
  });
});
