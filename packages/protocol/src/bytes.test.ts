import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fromBase64Url, toBase64Url, toHex, concatBytes, bytesEqual } from './bytes.js';

describe('base64url', () => {
  it('matches Node and round-trips any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const text = toBase64Url(bytes);
        assert.equal(text, Buffer.from(bytes).toString('base64url'));
        assert.deepEqual(fromBase64Url(text), bytes);
      }),
    );
  });

  it('rejects invalid and non-canonical text instead of guessing', () => {
    assert.equal(fromBase64Url('a'), undefined);
    assert.equal(fromBase64Url('ab=c'), undefined);
    assert.equal(fromBase64Url('ab+/'), undefined);
    assert.equal(fromBase64Url('AB'), undefined, 'trailing bits set');
    assert.deepEqual(fromBase64Url('AA'), Uint8Array.of(0));
    fc.assert(
      fc.property(fc.string(), (s) => {
        const out = fromBase64Url(s);
        if (out !== undefined) assert.equal(toBase64Url(out), s);
      }),
    );
  });

  it('has small helpers that behave', () => {
    assert.equal(toHex(Uint8Array.of(0, 15, 255)), '000fff');
    assert.deepEqual(concatBytes([Uint8Array.of(1), Uint8Array.of(2, 3)]), Uint8Array.of(1, 2, 3));
    assert.equal(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2)), true);
    assert.equal(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 3)), false);
  });
});
