import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toBase64Url } from '@parley/protocol';
import type { UserId } from '@parley/protocol';
import { safetyNumber, SafetyNumberError } from './safety-number.js';

const serverId = () => toBase64Url(crypto.getRandomValues(new Uint8Array(16))) as UserId;
const key = () => crypto.getRandomValues(new Uint8Array(32));

describe('safety numbers', () => {
  const alice = { userId: serverId(), signatureKeys: [key(), key()] };
  const bob = { userId: serverId(), signatureKeys: [key(), key(), key()] };

  it('renders 12 groups of 5 digits and is stable', () => {
    const n = safetyNumber(alice, bob);
    assert.match(n, /^\d{5}( \d{5}){11}$/);
    assert.equal(safetyNumber(alice, bob), n);
  });

  it('is the same for both users and independent of device order', () => {
    const n = safetyNumber(alice, bob);
    assert.equal(safetyNumber(bob, alice), n);
    assert.equal(safetyNumber({ ...alice, signatureKeys: [...alice.signatureKeys].reverse() }, { ...bob, signatureKeys: [...bob.signatureKeys].reverse() }), n);
    // Each user's half depends only on that user's devices.
    const half = (s: string, i: number) => s.split(' ').slice(i * 6, i * 6 + 6).join(' ');
    const withCarol = safetyNumber(alice, { userId: serverId(), signatureKeys: [key()] });
    const aliceHalf = alice.userId < bob.userId ? half(n, 0) : half(n, 1);
    assert.ok(withCarol.includes(aliceHalf));
  });

  it('changes when any device key is added, removed or replaced', () => {
    const n = safetyNumber(alice, bob);
    const first = bob.signatureKeys[0] ?? new Uint8Array();
    const changed = first.slice();
    changed[0] = (changed[0] ?? 0) ^ 1;
    assert.notEqual(safetyNumber(alice, { ...bob, signatureKeys: [changed, ...bob.signatureKeys.slice(1)] }), n);
    assert.notEqual(safetyNumber(alice, { ...bob, signatureKeys: [...bob.signatureKeys, key()] }), n);
    assert.notEqual(safetyNumber(alice, { ...bob, signatureKeys: bob.signatureKeys.slice(1) }), n);
    assert.notEqual(safetyNumber({ ...alice, userId: serverId() }, bob), n);
  });

  it('refuses degenerate input', () => {
    assert.throws(() => safetyNumber(alice, { ...alice }), SafetyNumberError);
    assert.throws(() => safetyNumber(alice, { ...bob, signatureKeys: [] }), SafetyNumberError);
  });
});
