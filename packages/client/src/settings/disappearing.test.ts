import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { GroupId } from '@parley/protocol';
import { decodeMeta, encodeMeta } from '../meta.js';
import { newConversationRecord } from '../store/records.js';
import { isAllowedTimer, MAX_TIMER_CHANGES, timerAt, withTimerChange } from './disappearing.js';

const conv = () => newConversationRecord({ id: 'AAAAAAAAAAAAAAAAAAAAAA' as GroupId, title: null, kind: 'direct', members: [] });

describe('disappearing timer by seq', () => {
  it('gives a message the timer of the latest setting below its seq, whatever order the settings were processed in', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: MAX_TIMER_CHANGES }), fc.integer({ min: 1, max: 1001 }), (seqs, at) => {
        const settings = seqs.map((seq, i) => ({ seq, ms: i % 3 === 0 ? null : 300_000 * (i + 1) }));
        let c = conv();
        for (const s of settings) c = withTimerChange(c, s.seq, s.ms);
        const below = settings.filter((s) => s.seq < at).sort((a, b) => b.seq - a.seq)[0];
        assert.equal(timerAt(c, at), below?.ms ?? null);
        const newest = [...settings].sort((a, b) => b.seq - a.seq)[0];
        assert.equal(c.disappearAfterMs, newest?.ms ?? null, 'the newest setting is in force');
      }),
    );
  });

  it('keeps the last changes only, and allows exactly the content timers', () => {
    let c = conv();
    for (let seq = 1; seq <= MAX_TIMER_CHANGES + 5; seq++) c = withTimerChange(c, seq, 300_000);
    assert.equal(c.disappearChanges?.length, MAX_TIMER_CHANGES);
    assert.equal(c.disappearChanges?.[0]?.seq, 6);
    assert.equal(timerAt(conv(), 10), null, 'no setting: off');
    for (const ok of [null, 300_000, 3_600_000, 86_400_000, 604_800_000, 2_419_200_000]) assert.ok(isAllowedTimer(ok));
    for (const bad of [0, 1, 299_999, 60_000, Number.NaN, Infinity, '300000', undefined]) assert.equal(isAllowedTimer(bad), false);
  });

  it('travels in rosters (setting seq and timer), and a roster with a disallowed timer is refused', () => {
    const members = [{ userId: 'UUUUUUUUUUUUUUUUUUUUUU' as never, username: 'alice' }];
    const r = decodeMeta(encodeMeta({ title: null, members, disappearing: { seq: 4, ms: 300_000 } }));
    assert.ok(r.kind === 'meta');
    assert.deepEqual(r.meta.disappearing, { seq: 4, ms: 300_000 });
    const none = decodeMeta(encodeMeta({ title: null, members }));
    assert.ok(none.kind === 'meta' && none.meta.disappearing === undefined, 'absent from older rosters');
    const bad = new TextEncoder().encode(new TextDecoder().decode(encodeMeta({ title: null, members, disappearing: { seq: 4, ms: 300_000 } })).replace('300000', '1234'));
    assert.equal(decodeMeta(bad).kind, 'invalid');
  });
});
