import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeBusEvent, encodeBusEvent } from './events.js';

describe('bus event codec (for adapters that cross processes)', () => {
  it('round-trips every kind of event', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_-]{2,86}$/), fc.integer({ min: 1, max: 2 ** 40 }), fc.uint8Array({ minLength: 1, maxLength: 500 }), (group, seq, frame) => {
        assert.deepEqual(decodeBusEvent(encodeBusEvent({ type: 'deliver', group, seq, frame })), { type: 'deliver', group, seq, frame });
        assert.deepEqual(decodeBusEvent(encodeBusEvent({ type: 'notice', frame })), { type: 'notice', frame });
        assert.deepEqual(decodeBusEvent(encodeBusEvent({ type: 'ephemeral', frame })), { type: 'ephemeral', frame });
      }),
    );
    // The store time crosses processes as wall-clock time and comes back on this process's clock.
    const storedAt = performance.now() - 12.5;
    const timed = decodeBusEvent(encodeBusEvent({ type: 'deliver', group: 'g1', seq: 7, frame: Uint8Array.of(1, 2), storedAt }));
    assert.ok(timed?.type === 'deliver' && timed.storedAt !== undefined);
    assert.deepEqual({ ...timed, storedAt: 0 }, { type: 'deliver', group: 'g1', seq: 7, frame: Uint8Array.of(1, 2), storedAt: 0 });
    assert.ok(Math.abs(timed.storedAt - storedAt) < 2, `${timed.storedAt} vs ${storedAt}`);
    assert.deepEqual(decodeBusEvent(encodeBusEvent({ type: 'revoked' })), { type: 'revoked' });
    assert.deepEqual(decodeBusEvent(encodeBusEvent({ type: 'recheck' })), { type: 'recheck' });
  });

  it('rejects garbage instead of throwing', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        decodeBusEvent(bytes);
      }),
    );
    assert.equal(decodeBusEvent(new Uint8Array(0)), undefined);
    assert.equal(decodeBusEvent(Uint8Array.of(9)), undefined);
  });
});
