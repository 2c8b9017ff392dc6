import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeTerm, fold, indexTerms, queryTerms } from './tokenize.js';
import { snippetOf } from './snippet.js';

describe('search tokenizer', () => {
  it('folds case, width and diacritics for Latin and Arabic, keeps Japanese voicing marks', () => {
    assert.equal(fold('Déjà VU'), 'deja vu');
    assert.equal(fold('ＡＢＣ'), 'abc');
    assert.equal(fold('مَرْحَبًا'), 'مرحبا');
    assert.equal(fold('أحمد'), 'احمد');
    assert.equal(fold('がぎ'), 'がぎ');
  });

  it('splits Chinese and Japanese runs into two-character pieces, so a word is found wherever the segmenter cut', () => {
    const zh = indexTerms('我明天去北京大学开会');
    for (const w of ['北京', '大学', '开会', '京大']) assert.ok(zh.has(w), w);
    assert.ok(zh.has('会'), 'the last character alone (a one-character query finds it by prefix)');
    assert.ok(!zh.has('我明天去北京大学开会'), 'not one whitespace-delimited token');
    assert.ok(indexTerms('火车站').has('车站'));
    assert.deepEqual(queryTerms('北京大学'), ['北京', '京大', '大学']);
    assert.ok(indexTerms('東京都に住んでいます').has('東京'));
    assert.deepEqual(queryTerms('Hello, hello  WORLD!'), ['hello', 'world']);
    assert.deepEqual(queryTerms('👍🏽 ok'), ['👍🏽', 'ok']);
  });

  it('encodes terms as printable ASCII with prefixes kept', () => {
    for (const [a, b] of [['北', '北京'], ['caf', 'cafe'], ['👍', '👍🏽'], ['مر', 'مرحبا']]) {
      assert.ok(encodeTerm(b as string).startsWith(encodeTerm(a as string)), `${a} → ${b}`);
      assert.match(encodeTerm(b as string), /^[\x21-\x7e]+$/);
    }
    assert.ok(!encodeTerm('ab').startsWith(encodeTerm('b')));
    // Every code point class, never "/" (the key separator), 3 characters per BMP character.
    for (const cp of [0x41, 0x2f, 0x7e, 0x627, 0x4e2d, 0xfffd, 0xffff, 0x1f44d, 0x10ffff]) assert.match(encodeTerm(String.fromCodePoint(cp)), /^[A-Za-z0-9^_-]+$/);
    assert.equal(encodeTerm('北京').length, 6);
    // Distinct characters, distinct units (a prefix of one never reads as another).
    const units = new Set([...'abc中文مرحبا👍🏽/~'].map((c) => encodeTerm(c)));
    assert.equal(units.size, [...'abc中文مرحبا👍🏽/~'].length);
  });

  it('cuts a long text around the first match and moves the ranges into the snippet', () => {
    const text = `${'x '.repeat(200)}the needle here ${'y '.repeat(200)}`;
    const { snippet, matches } = snippetOf(text, ['needle']);
    assert.ok(snippet.length < 200 && snippet.startsWith('…') && snippet.endsWith('…'));
    assert.deepEqual(matches.map((m) => snippet.slice(m.start, m.end)), ['needle']);
  });
});
