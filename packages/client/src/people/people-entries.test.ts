import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { UserId } from '@parley/protocol';
import { checkNickname, CONTACT_CODE_PREFIX, parseContactCode } from './contacts.js';
import { ContactEntrySchema, MAX_NICKNAME_LENGTH, nicknameProblem } from './people-entries.js';
import { compareEntries, latestBy } from './people-sync.js';

const USER = 'AAAAAAAAAAAAAAAAAAAAAA' as UserId;

describe('people entries', () => {
  it('reads back a contact code for any username, and refuses what is not one', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), (username) => {
        const code = `${CONTACT_CODE_PREFIX}${encodeURIComponent(username)}#${USER}`;
        assert.deepEqual(parseContactCode(code), { username, userId: USER });
      }),
    );
    for (const bad of ['alice', `${CONTACT_CODE_PREFIX}alice`, `${CONTACT_CODE_PREFIX}#${USER}`, `${CONTACT_CODE_PREFIX}alice#short`, `${CONTACT_CODE_PREFIX}%E0%A4%A#${USER}`, `parley:other/alice#${USER}`]) {
      assert.equal(parseContactCode(bad), undefined, bad);
    }
  });

  it('accepts ordinary nicknames and refuses long ones, control, bidi formatting and lone surrogates', () => {
    for (const ok of ['Bob', 'Грета', '山田さん', 'Ana 🌻', 'x'.repeat(MAX_NICKNAME_LENGTH)]) assert.equal(nicknameProblem(ok), undefined, ok);
    for (const bad of ['', 'x'.repeat(MAX_NICKNAME_LENGTH + 1), 'a\nb', 'tab\t', 'del\u007f', 'c1\u0085', '\u202Eevil', 'iso\u2066late', 'mark\u200F', 'alm\u061C', 'half\uD83D']) {
      assert.notEqual(nicknameProblem(bad), undefined, JSON.stringify(bad));
      assert.equal(ContactEntrySchema.safeParse({ userId: USER, username: 'bob', nickname: bad, addedAt: 1, updatedAt: 1, removed: false }).success, false);
    }
    assert.equal(checkNickname('  Bob  '), 'Bob');
    assert.equal(checkNickname('   '), null);
    assert.equal(checkNickname(null), null);
    assert.throws(() => checkNickname(42));
  });

  it('breaks a tie between two entries of the same time the same way on every device', () => {
    const a = { userId: USER, username: 'bob', nickname: 'A', addedAt: 1, updatedAt: 5, removed: false };
    const b = { removed: false, updatedAt: 5, addedAt: 1, nickname: 'B', username: 'bob', userId: USER };
    assert.equal(Math.sign(compareEntries(a, b)), -Math.sign(compareEntries(b, a)));
    assert.notEqual(compareEntries(a, b), 0);
    assert.equal(compareEntries(a, { ...b, nickname: 'A' }), 0, 'key order does not matter');
    assert.deepEqual(latestBy([a, b], (e) => e.userId), latestBy([b, a], (e) => e.userId));
    assert.ok(compareEntries({ ...a, updatedAt: 6 }, b) > 0);
  });

  it('keeps the latest entry per key, whatever the order they come in', () => {
    const entry = fc.record({ key: fc.constantFrom('a', 'b', 'c'), updatedAt: fc.integer({ min: 0, max: 20 }), tag: fc.nat() });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 12 }), (entries) => {
        // Distinct times per key (the merge never needs to break a tie between two different entries of one device).
        const seen = new Set<string>();
        const distinct = entries.filter((e) => !seen.has(`${e.key}/${e.updatedAt}`) && seen.add(`${e.key}/${e.updatedAt}`));
        const a = latestBy(distinct, (e) => e.key);
        const b = latestBy([...distinct].reverse(), (e) => e.key);
        const sort = (xs: typeof distinct) => [...xs].sort((x, y) => (x.key < y.key ? -1 : 1));
        assert.deepEqual(sort(a), sort(b));
        for (const e of a) assert.equal(e.updatedAt, Math.max(...distinct.filter((x) => x.key === e.key).map((x) => x.updatedAt)));
      }),
    );
  });
});
