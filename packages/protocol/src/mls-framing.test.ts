import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeOpaqueMlsMessage, encodePrivateMessageFraming, isMlsGroupInfo, isMlsKeyPackage, isMlsWelcome, MlsFramingError, readMlsFraming } from './mls-framing.js';

describe('MLS framing', () => {
  it('reads back group id, epoch and content type of a PrivateMessage', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.constantFrom('application' as const, 'proposal' as const, 'commit' as const),
        fc.uint8Array({ maxLength: 100 }),
        (gid, epoch, type, body) => {
          const f = readMlsFraming(encodePrivateMessageFraming(gid, epoch, type, body));
          assert.deepEqual(f.groupId, gid);
          assert.equal(f.epoch, epoch);
          assert.equal(f.contentType, type);
          assert.equal(f.wireFormat, 'private_message');
        },
      ),
    );
  });

  it('reads a PublicMessage commit from a member', () => {
    // version 1, wire 1, group_id "ab", epoch 7, sender member leaf 3, empty authenticated data, commit
    const bytes = Uint8Array.from([0, 1, 0, 1, 2, 0x61, 0x62, 0, 0, 0, 0, 0, 0, 0, 7, 1, 0, 0, 0, 3, 0, 3, 9, 9]);
    const f = readMlsFraming(bytes);
    assert.equal(f.wireFormat, 'public_message');
    assert.equal(f.epoch, 7n);
    assert.equal(f.contentType, 'commit');
    assert.deepEqual(f.groupId, Uint8Array.of(0x61, 0x62));
  });

  it('throws only MlsFramingError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          readMlsFraming(bytes);
        } catch (err) {
          assert.ok(err instanceof MlsFramingError);
        }
      }),
      { numRuns: 2000 },
    );
    assert.throws(() => readMlsFraming(Uint8Array.of(0, 1, 0, 3, 0)), MlsFramingError);
    assert.throws(() => readMlsFraming(Uint8Array.of(0, 1, 0, 2, 0x40, 0x01)), /non-minimal/);
  });

  it('recognises welcome, group info and key package messages', () => {
    assert.ok(isMlsWelcome(encodeOpaqueMlsMessage('welcome', Uint8Array.of(1))));
    assert.ok(isMlsGroupInfo(encodeOpaqueMlsMessage('group_info', Uint8Array.of(1))));
    assert.ok(isMlsKeyPackage(encodeOpaqueMlsMessage('key_package', Uint8Array.of(1))));
    assert.ok(!isMlsWelcome(encodeOpaqueMlsMessage('key_package', Uint8Array.of(1))));
  });
});
