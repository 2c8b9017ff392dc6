import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeAscending, encodeAscending, readUints, unzigzag, writeInt, writeUint } from './codec.js';

describe('search codec', () => {
  it('round-trips lists of numbers as printable ASCII', () => {
    fc.assert(
      fc.property(fc.array(fc.maxSafeNat()), (ns) => {
        const text = ns.reduce((s, n) => writeUint(s, n), '');
        assert.match(text, /^[\x21-\x7e]*$/);
        assert.deepEqual(readUints(text), ns);
      }),
    );
  });

  it('round-trips signed numbers', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -(2 ** 52), max: 2 ** 52 - 1 })), (ns) => {
        assert.deepEqual(readUints(ns.reduce((s, n) => writeInt(s, n), ''))?.map(unzigzag), ns);
      }),
    );
  });

  it('writes small gaps in one character: a common word costs about one character per message', () => {
    assert.equal(writeUint('', 0).length, 1);
    assert.equal(writeUint('', 63).length, 1);
    assert.equal(writeUint('', 64).length, 2);
    assert.equal(writeUint('', 1919).length, 2);
    assert.equal(writeUint('', 1920).length, 3);
    assert.equal(encodeAscending([4096, 4097, 4098, 4100], 4096).length, 4);
  });

  it('round-trips ascending lists from their base', () => {
    fc.assert(
      fc.property(fc.nat(1 << 20), fc.uniqueArray(fc.nat(1 << 16)), (base, offsets) => {
        const docs = offsets.sort((a, b) => a - b).map((o) => base + o);
        assert.deepEqual(decodeAscending(encodeAscending(docs, base), base), docs);
      }),
    );
  });

  it('refuses what it did not write, without throwing', () => {
    for (const bad of ['a', 'ab', ' ', '\u00e9', '!\u007f', '~~~~~~~~~~~~~~~~~~!']) assert.equal(readUints(bad), undefined, JSON.stringify(bad));
    fc.assert(
      fc.property(fc.string(), (s) => {
        const ns = readUints(s);
        if (ns !== undefined) assert.ok(ns.every((n) => Number.isSafeInteger(n) && n >= 0));
      }),
    );
  });
});
