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

  it('refuses default-ignorable characters and Hangul fillers, before and after NFKC', () => {
    const fillers = ['\u3164', '\u115F', '\u1160', '\uFFA0'];
    const ignorables = ['\u200B', '\u200C', '\u200D', '\u2060', '\u00AD', '\u034F', '\uFE0F', '\u180E', '\uFEFF', '\u{E0041}'];
    for (const base of ['김철수', 'alice', '李小龍']) {
      assert.equal(checkUsername(base).ok, true, base);
      for (const ch of [...fillers, ...ignorables]) {
        for (const name of [base + ch, ch + base, base.slice(0, 1) + ch + base.slice(1)]) {
          const r = checkUsername(name);
          assert.equal(r.ok, false, `U+${ch.codePointAt(0)?.toString(16)} in ${base}`);
        }
      }
    }
    // A Korean look-alike padded with fillers is refused outright, not registered as a distinct user.
    const r = checkUsername('김철수\u3164\u3164');
    assert.ok(!r.ok && /invisible/.test(r.reason));
  });

  it('never accepts a name containing an invisible character (property)', () => {
    const invisible = fc.constantFrom('\u3164', '\u115F', '\u1160', '\uFFA0', '\u200B', '\u200D', '\u2060', '\uFE0F', '\u00AD', '\u17B4', '\u{1D173}');
    fc.assert(
      fc.property(fc.string({ minLength: 3, maxLength: 20 }), invisible, fc.nat(), (s, ch, at) => {
        const i = at % (s.length + 1);
        assert.equal(checkUsername(s.slice(0, i) + ch + s.slice(i)).ok, false);
      }),
    );
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
