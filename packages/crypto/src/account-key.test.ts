import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { DeviceId, UserId } from '@parley/protocol';
import {
  ACCOUNT_KEY_BYTES,
  accountKeyId,
  AccountKeyError,
  generateAccountKey,
  openDeviceName,
  openWithAccountKey,
  SEALED_DEVICE_NAME_BYTES,
  sealDeviceName,
  sealedKeyId,
  sealWithAccountKey,
} from './account-key.js';
import type { AccountKeyErrorCode } from './account-key.js';

const userId = 'UUUUUUUUUUUUUUUUUUUUUU' as UserId;
const laptop = { userId, deviceId: 'LLLLLLLLLLLLLLLLLLLLLL' as DeviceId };
const phone = { userId, deviceId: 'PPPPPPPPPPPPPPPPPPPPPP' as DeviceId };

async function failsWith(p: Promise<unknown>, code: AccountKeyErrorCode) {
  await assert.rejects(p, (err: unknown) => err instanceof AccountKeyError && err.code === code);
}

/** Device names as DeviceNameSchema accepts them (no surrounding spaces; 1-64 UTF-16 units). */
const names = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).map((s) => s.trim().slice(0, 64)).filter((s) => s.length > 0 && s.trim() === s && new TextDecoder().decode(new TextEncoder().encode(s)) === s);

describe('account key: device names', () => {
  it('round-trips any name with the same key, and every sealed name has one size', async () => {
    const key = generateAccountKey();
    assert.equal(key.length, ACCOUNT_KEY_BYTES);
    await fc.assert(
      fc.asyncProperty(names, async (name) => {
        const sealed = await sealDeviceName(key, laptop, name);
        assert.equal(sealed.length, SEALED_DEVICE_NAME_BYTES);
        assert.equal(await openDeviceName([key], laptop, sealed), name);
      }),
      { numRuns: 100 },
    );
    const longest = await sealDeviceName(key, laptop, '语'.repeat(64));
    const shortest = await sealDeviceName(key, laptop, 'a');
    assert.equal(longest.length, shortest.length);
    assert.equal(await openDeviceName([key], laptop, longest), '语'.repeat(64));
    // Sealing twice gives different bytes (fresh nonce).
    assert.notDeepEqual(await sealDeviceName(key, laptop, 'Work laptop'), await sealDeviceName(key, laptop, 'Work laptop'));
  });

  it('names the key that sealed it, and opens with whichever held key that is', async () => {
    const old = generateAccountKey();
    const current = generateAccountKey();
    assert.match(await accountKeyId(current), /^[A-Za-z0-9_-]{11}$/);
    assert.notEqual(await accountKeyId(old), await accountKeyId(current));
    assert.equal(await accountKeyId(current), await accountKeyId(current.slice()));
    const sealed = await sealDeviceName(old, laptop, 'Kitchen tablet');
    assert.equal(sealedKeyId(sealed), await accountKeyId(old));
    assert.equal(await openDeviceName([current, old], laptop, sealed), 'Kitchen tablet');
    await failsWith(openDeviceName([current], laptop, sealed), 'unknown_key');
    await failsWith(openDeviceName([], laptop, sealed), 'unknown_key');
  });

  it('refuses a name moved to another device, a tampered byte, another purpose, and garbage', async () => {
    const key = generateAccountKey();
    const sealed = await sealDeviceName(key, laptop, 'Alice’s work laptop');
    // The server swaps two devices' names: bound to the device id, it no longer opens.
    await failsWith(openDeviceName([key], phone, sealed), 'decrypt_failed');
    await failsWith(openDeviceName([key], { ...laptop, userId: 'VVVVVVVVVVVVVVVVVVVVVV' as UserId }, sealed), 'decrypt_failed');
    for (const at of [0, 1, 9, 20, sealed.length - 1]) {
      const bad = sealed.slice();
      bad[at] = (bad[at] ?? 0) ^ 0x01;
      await assert.rejects(openDeviceName([key], laptop, bad), AccountKeyError, `byte ${at}`);
    }
    await failsWith(openDeviceName([key], laptop, sealed.subarray(0, 30)), 'malformed');
    await failsWith(openDeviceName([key], laptop, new Uint8Array(0)), 'malformed');
    await failsWith(openWithAccountKey([key], 'device name', 'another context', sealed), 'decrypt_failed');
    // Well sealed, but not a padded name: refused as malformed, not shown.
    const raw = await sealWithAccountKey(key, 'device name', `${laptop.userId}\n${laptop.deviceId}`, new TextEncoder().encode('no padding'));
    await failsWith(openDeviceName([key], laptop, raw), 'malformed');
    const block = new Uint8Array(256);
    block[0] = 3;
    block.set([0xff, 0xfe, 0xfd], 1);
    await failsWith(openDeviceName([key], laptop, await sealWithAccountKey(key, 'device name', `${laptop.userId}\n${laptop.deviceId}`, block)), 'malformed');
  });

  it('refuses names that are not names and keys that are not keys', async () => {
    const key = generateAccountKey();
    await failsWith(sealDeviceName(key, laptop, '   '), 'invalid_parameters');
    await failsWith(sealDeviceName(key, laptop, 'x'.repeat(65)), 'invalid_parameters');
    await failsWith(sealDeviceName(new Uint8Array(16), laptop, 'ok'), 'invalid_parameters');
    // Surrounding spaces are trimmed, as DeviceNameSchema does.
    assert.equal(await openDeviceName([key], laptop, await sealDeviceName(key, laptop, '  Phone  ')), 'Phone');
  });
});
