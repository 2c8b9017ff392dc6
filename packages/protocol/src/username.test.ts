import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkUsername } from './username.js';

describe('usernames', () => {
  it('normalises with NFKC and folds case', () => {
    const a = checkUsername('Alice');
    const b = checkUsername('ＡＬＩＣＥ');
    assert.ok(a.ok && b.ok);
    assert.equal(a.normalized, 'alice');
    assert.equal(b.normalized, 'alice');
  });

  it('gives look-alikes the same skeleton', () => {
    const pairs = [
      ['paypal', 'paypa1'],
      ['modern', 'rnodern'],
      ['google', 'g00gle'],
      ['bob.smith', 'bob_smith'],
    ];
    for (const [x, y] of pairs) {
      const a = checkUsername(x ?? '');
      const b = checkUsername(y ?? '');
      assert.ok(a.ok && b.ok, `${x} / ${y}`);
      assert.equal(a.skeleton, b.skeleton, `${x} ~ ${y}`);
    }
    const c = checkUsername('alice');
    const d = checkUsername('alicia');
    assert.ok(c.ok && d.ok);
    assert.notEqual(c.skeleton, d.skeleton);
  });

  it('refuses mixed scripts, symbols, bad lengths and edge punctuation', () => {
    for (const bad of ['pаypal', 'abcДЕЖ', 'ab', 'x'.repeat(33), 'a b', 'a@b', '.alice', 'alice-', '123', 'emoji😀', 'a\u200bb', '١٢٣abc']) {
      assert.equal(checkUsername(bad).ok, false, bad);
    }
    for (const good of ['李小龍', 'たなか', '김철수', 'Ελένη', 'Дмитрий', 'مرحبا', 'anna.k', 'o_brien', 'user42']) {
      assert.equal(checkUsername(good).ok, true, good);
    }
  });

  it('is idempotent: a normalised name normalises to itself', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), (s) => {
        const r = checkUsername(s);
        if (!r.ok) return;
        const again = checkUsername(r.normalized);
        assert.ok(again.ok);
        assert.equal(again.normalized, r.normalized);
        assert.equal(again.skeleton, r.skeleton);
      }),
    );
  });
});
