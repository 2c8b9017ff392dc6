import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { GroupOrder } from './group-order.js';

const f = (n: number) => Uint8Array.of(n);

describe('GroupOrder', () => {
  it('delivers in order whatever order messages arrive in, without duplicates', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.array(fc.nat(), { minLength: 40, maxLength: 40 }), fc.integer({ min: 0, max: 5 }), (n, keys, dupEvery) => {
        const seqs = Array.from({ length: n }, (_, i) => i + 1);
        const shuffled = seqs.map((s, i) => [keys[i] ?? 0, s] as const).sort((a, b) => a[0] - b[0]).map(([, s]) => s);
        const out: number[] = [];
        const o = new GroupOrder((fr) => out.push(fr[0] ?? -1));
        o.mark('g', 0);
        shuffled.forEach((s, i) => {
          o.offer('g', s, f(s));
          if (dupEvery && i % dupEvery === 0) o.offer('g', s, f(s));
        });
        assert.deepEqual(out, seqs);
        assert.equal(o.hasGap('g'), false);
      }),
    );
  });

  it("skips the device's own messages and closes gaps with them", () => {
    const out: number[] = [];
    const o = new GroupOrder((fr) => out.push(fr[0] ?? -1));
    o.mark('g', 3);
    assert.equal(o.offer('g', 6, f(6)), 'held');
    o.sentByDevice('g', 5);
    assert.equal(o.hasGap('g'), true);
    assert.equal(o.offer('g', 4, f(4)), 'sent');
    assert.deepEqual(out, [4, 6]);
    assert.equal(o.position('g'), 6);
    assert.equal(o.offer('g', 2, f(2)), 'duplicate');
  });

  it('releases what it holds when a gap is given up on', () => {
    const out: number[] = [];
    const o = new GroupOrder((fr) => out.push(fr[0] ?? -1));
    o.mark('g', 1);
    o.offer('g', 4, f(4));
    o.offer('g', 3, f(3));
    o.release('g');
    assert.deepEqual(out, [3, 4]);
    // an unknown group waits for its starting point
    assert.equal(o.offer('h', 8, f(8)), 'held');
    assert.equal(o.offer('h', 7, f(7)), 'held');
    o.mark('h', 6);
    assert.deepEqual(out, [3, 4, 7, 8]);
    // own messages are known before the group's position, and never handed back
    o.sentByDevice('k', 2);
    assert.equal(o.offer('k', 2, f(2)), 'duplicate');
    o.mark('k', 1);
    assert.equal(o.offer('k', 3, f(3)), 'sent');
    assert.deepEqual(out, [3, 4, 7, 8, 3]);
  });
});
