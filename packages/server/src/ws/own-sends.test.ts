import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OwnSends } from './own-sends.js';

describe('OwnSends: acknowledgements reach over the device’s own messages', () => {
  it('extends an ack over own seqs that follow it without a gap, once', () => {
    const own = new OwnSends();
    assert.equal(own.extend('g', 4), 4, 'nothing sent');
    own.record('g', 6);
    own.record('g', 7);
    own.record('g', 9);
    own.record('h', 6);
    assert.equal(own.extend('g', 4), 4, '5 is someone else’s and unread');
    assert.equal(own.extend('g', 5), 7, '6 and 7 are its own');
    assert.equal(own.extend('g', 7), 7, 'forgotten once covered');
    assert.equal(own.extend('g', 8), 9);
    assert.equal(own.extend('h', 5), 6, 'per group');
  });

  it('forgets a group the device left, and keeps a bounded number of seqs', () => {
    const own = new OwnSends();
    own.record('g', 2);
    own.forget('g');
    assert.equal(own.extend('g', 1), 1);
    for (let s = 1; s <= OwnSends.MAX_PER_GROUP + 10; s++) own.record('g', s);
    assert.equal(own.extend('g', 0), 0, 'the oldest were dropped');
    assert.equal(own.extend('g', 10), OwnSends.MAX_PER_GROUP + 10);
  });
});
