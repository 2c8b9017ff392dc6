import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeClientFrame, decodeServerFrame, encodeFrame, splitParts, FrameError } from './frames.js';

describe('frame codec', () => {
  it('round-trips header and payload', () => {
    const frame = encodeFrame({ t: 'send', rid: 7, group: 'abcd' }, [Uint8Array.of(1, 2), Uint8Array.of(3)]);
    const d = decodeClientFrame(frame);
    assert.ok(d.ok);
    assert.deepEqual(d.frame, { t: 'send', rid: 7, group: 'abcd' });
    assert.deepEqual(d.payload, Uint8Array.of(1, 2, 3));
    assert.equal(frame[0], 1);
    assert.equal(new DataView(frame.buffer).getUint32(1), JSON.stringify({ t: 'send', rid: 7, group: 'abcd' }).length);
  });

  it('encodes any header text exactly as UTF-8 (ASCII fast path and multi-byte fallback)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.uint8Array({ maxLength: 64 }), (text, payload) => {
        const header = { t: 'error', code: 'bad_request', message: text };
        const frame = encodeFrame(header, [payload]);
        const json = new TextEncoder().encode(JSON.stringify(header));
        assert.equal(frame.length, 5 + json.length + payload.length);
        assert.equal(new DataView(frame.buffer, frame.byteOffset).getUint32(1), json.length);
        assert.deepEqual(frame.subarray(5, 5 + json.length), json);
        assert.deepEqual(frame.subarray(5 + json.length), payload);
      }),
      { numRuns: 300 },
    );
    const accented = encodeFrame({ t: 'error', message: 'é中😀' });
    assert.equal(new TextDecoder().decode(accented.subarray(5)), JSON.stringify({ t: 'error', message: 'é中😀' }));
  });

  it('never throws on arbitrary bytes and reports why a frame is refused', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const c = decodeClientFrame(bytes);
        const s = decodeServerFrame(bytes);
        if (!c.ok) assert.equal(typeof c.error, 'string');
        if (!s.ok) assert.equal(typeof s.error, 'string');
      }),
      { numRuns: 3000 },
    );
    const unknownType = decodeClientFrame(encodeFrame({ t: 'launch_missiles' }));
    assert.equal(unknownType.ok, false);
    const extraField = decodeClientFrame(encodeFrame({ t: 'ping', rid: -1 }));
    assert.equal(extraField.ok, false);
  });

  it('splits parts only when they add up', () => {
    assert.deepEqual(splitParts(Uint8Array.of(1, 2, 3), [1, 0, 2]), [Uint8Array.of(1), Uint8Array.of(), Uint8Array.of(2, 3)]);
    assert.throws(() => splitParts(Uint8Array.of(1, 2, 3), [1, 1]), FrameError);
  });
});

describe('rejoin frames', () => {
  it('a client rejoin frame names a group; the server one adds the sender it authenticated', () => {
    const c = decodeClientFrame(encodeFrame({ t: 'rejoin', group: 'abcd' }, [Uint8Array.of(1)]));
    assert.ok(c.ok);
    assert.deepEqual(c.frame, { t: 'rejoin', group: 'abcd' });
    assert.equal(decodeClientFrame(encodeFrame({ t: 'rejoin' })).ok, false);
    const s = decodeServerFrame(encodeFrame({ t: 'rejoin', group: 'abcd', user: 'AAAAAAAAAAAAAAAAAAAAAA', device: 'BBBBBBBBBBBBBBBBBBBBBB' }, [Uint8Array.of(1)]));
    assert.ok(s.ok);
    assert.equal(decodeServerFrame(encodeFrame({ t: 'rejoin', group: 'abcd' })).ok, false);
  });
});

describe('typing frames', () => {
  it('a client typing frame names a group and carries one opaque part', () => {
    const d = decodeClientFrame(encodeFrame({ t: 'typing', group: 'abcd' }, [Uint8Array.of(9, 9)]));
    assert.ok(d.ok);
    assert.deepEqual(d.frame, { t: 'typing', group: 'abcd' });
    assert.deepEqual(d.payload, Uint8Array.of(9, 9));
    assert.equal(decodeClientFrame(encodeFrame({ t: 'typing' })).ok, false);
    assert.equal(decodeClientFrame(encodeFrame({ t: 'typing', group: 'not a group id!' })).ok, false);
  });

  it('the server typing frame carries the epoch', () => {
    const d = decodeServerFrame(encodeFrame({ t: 'typing', group: 'abcd', epoch: 3 }, [Uint8Array.of(1)]));
    assert.ok(d.ok);
    assert.deepEqual(d.frame, { t: 'typing', group: 'abcd', epoch: 3 });
    assert.equal(decodeServerFrame(encodeFrame({ t: 'typing', group: 'abcd' })).ok, false);
  });
});
