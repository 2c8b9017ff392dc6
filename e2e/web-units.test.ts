/**
 * The web app's pure helpers for messaging, and the content-schema limits it
 * repeats (the app talks only to @parley/client, so it keeps its own copy of
 * what it checks before sending; these tests hold the copies equal).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DELETE_WINDOW_MS, DISAPPEAR_TIMERS_MS, EDIT_WINDOW_MS, EmojiSchema, MAX_EMOJI_LENGTH, MAX_VOICE_DURATION_MS, MAX_WAVEFORM_SAMPLES } from '@parley/crypto';
import { DISAPPEAR_OPTIONS, timerLine } from '../apps/web/src/lib/disappearing.js';
import * as limits from '../apps/web/src/lib/content-rules.js';
import { pickEmoji } from '../apps/web/src/lib/content-rules.js';
import { downsample } from '../apps/web/src/lib/waveform.js';

describe('web messaging helpers', () => {
  it('repeats the content schema’s limits exactly', () => {
    assert.equal(limits.EDIT_WINDOW_MS, EDIT_WINDOW_MS);
    assert.equal(limits.DELETE_WINDOW_MS, DELETE_WINDOW_MS);
    assert.equal(limits.MAX_VOICE_DURATION_MS, MAX_VOICE_DURATION_MS);
    assert.equal(limits.MAX_WAVEFORM_SAMPLES, MAX_WAVEFORM_SAMPLES);
    assert.equal(limits.MAX_EMOJI_LENGTH, MAX_EMOJI_LENGTH);
    assert.deepEqual(
      DISAPPEAR_OPTIONS.map((o) => o.ms),
      [null, ...DISAPPEAR_TIMERS_MS],
    );
  });

  it('picks an emoji the schema accepts, or none', () => {
    for (const input of ['👍', '❤️', '👍🏽', '🇩🇪', '1️⃣', '👩‍👩‍👧', '🏳️‍🌈', ' 🦄 ', 'ok 👍', 'great!🎉🎉']) {
      const e = pickEmoji(input);
      assert.ok(e !== null, input);
      assert.ok(EmojiSchema.safeParse(e).success, `${input} → ${e}`);
    }
    assert.equal(pickEmoji('ok 👍'), '👍');
    assert.equal(pickEmoji('🇩🇪'), '🇩🇪');
    assert.equal(pickEmoji('🎉🎉'), '🎉');
    for (const input of ['', '   ', 'abc', '123', ':)', '#']) assert.equal(pickEmoji(input), null, input);
  });

  it('downsamples loudness to at most 256 values with the loudest at 255', () => {
    assert.equal(downsample([], 256).length, 0);
    const few = downsample([0, 0.5, 1], 256);
    assert.deepEqual([...few], [0, 128, 255]);
    const many = downsample(Array.from({ length: 10_000 }, (_, i) => (i % 100) / 100), MAX_WAVEFORM_SAMPLES);
    assert.equal(many.length, MAX_WAVEFORM_SAMPLES);
    assert.equal(Math.max(...many), 255);
    assert.ok(many.every((v) => v >= 0 && v <= 255));
    // Silence stays silent (no division by zero).
    assert.deepEqual([...downsample([0, 0, 0, 0], 256)], [0, 0, 0, 0]);
  });

  it('words the timer line for the chat', () => {
    assert.equal(timerLine('You', 5 * 60_000), 'You set disappearing messages to 5 minutes');
    assert.equal(timerLine('alice', 28 * 24 * 60 * 60_000), 'alice set disappearing messages to 4 weeks');
    assert.equal(timerLine('alice', null), 'alice turned off disappearing messages');
  });
});
