import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { UserId } from '@parley/protocol';
import { decodeMeta, encodeMeta } from '../src/meta.js';

const members = [{ userId: 'AAAAAAAAAAAAAAAAAAAAAA' as UserId, username: 'alice' }];

describe('client: roster messages', () => {
  it('carries the conversation kind, and reads rosters without one (older clients)', () => {
    const withKind = decodeMeta(encodeMeta({ title: null, kind: 'group', members }));
    assert.ok(withKind.kind === 'meta' && withKind.meta.kind === 'group');
    const without = decodeMeta(encodeMeta({ title: 'x', members }));
    assert.ok(without.kind === 'meta' && without.meta.kind === undefined);
    const wire = JSON.parse(new TextDecoder().decode(encodeMeta({ title: null, kind: 'direct', members }))) as Record<string, unknown>;
    const bad = decodeMeta(new TextEncoder().encode(JSON.stringify({ ...wire, kind: 'channel' })));
    assert.equal(bad.kind, 'invalid');
  });
});
