import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { GroupId } from '@parley/protocol';
import { decodeSelfMessage, encodeSelfMessage, SELF_MESSAGE_TYPE } from '../self/self-messages.js';
import { prefsOf } from './prefs.js';

const A = 'AAAAAAAAAAAAAAAAAAAAAA' as GroupId;
const bytes = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));

describe('conversation_prefs self message', () => {
  it('round-trips any preferences', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), fc.boolean(), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (muted, pinned, archived, updatedAt) => {
        const m = { kind: 'conversation_prefs' as const, conversationId: A, muted, pinned, archived, updatedAt };
        assert.deepEqual(decodeSelfMessage(encodeSelfMessage(m)), { ok: true, message: m });
      }),
    );
  });

  it('refuses anything malformed (a receiver drops it with an error event)', () => {
    const good = { type: SELF_MESSAGE_TYPE, v: 1, kind: 'conversation_prefs', conversationId: A, muted: true, pinned: false, archived: false, updatedAt: 1 };
    assert.equal(decodeSelfMessage(bytes(good)).ok, true);
    for (const bad of [
      { ...good, muted: 'yes' },
      { ...good, pinned: 1 },
      { ...good, updatedAt: -1 },
      { ...good, updatedAt: 1.5 },
      { ...good, conversationId: 'not a group id!' },
      { ...good, archived: undefined },
      { ...good, v: 2 },
    ]) {
      assert.equal(decodeSelfMessage(bytes(bad)).ok, false, JSON.stringify(bad));
    }
  });

  it('reads records from before preferences as all off', () => {
    assert.deepEqual(prefsOf({}), { muted: false, pinned: false, archived: false });
    assert.deepEqual(prefsOf({ muted: true }), { muted: true, pinned: false, archived: false });
  });
});
