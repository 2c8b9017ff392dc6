import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GroupId } from '@parley/protocol';
import { newConversationRecord } from '../store/records.js';
import { withOwnSeq } from './group-state.js';

describe('own seqs', () => {
  const conv = { ...newConversationRecord({ id: 'g' as GroupId, title: null, kind: 'direct', members: [] }), lastSeq: 10 };

  it('moves the cursor for a seq right above it, and for kept seqs that then join it', () => {
    assert.deepEqual(withOwnSeq(conv, 11), { ...conv, lastSeq: 11, ownSeqs: [] });
    const gap = withOwnSeq(withOwnSeq(conv, 13), 12);
    assert.deepEqual([gap.lastSeq, gap.ownSeqs], [10, [12, 13]], 'seq 11 is not here yet: both kept');
    const joined = withOwnSeq(gap, 11);
    assert.deepEqual([joined.lastSeq, joined.ownSeqs], [13, []]);
    assert.equal(withOwnSeq(conv, 9), conv, 'at or below the cursor: nothing to keep');
  });

  it('keeps a bounded number of own seqs (a device that only sends never outgrows its record)', () => {
    let c = conv;
    for (let seq = 12; seq < 12 + 5_000; seq++) c = withOwnSeq(c, seq);
    assert.equal(c.lastSeq, 10);
    assert.equal(c.ownSeqs.length, 1_000);
    assert.equal(c.ownSeqs.at(-1), 12 + 4_999);
  });
});
