import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { toBase64Url } from './bytes.js';
import { GroupIdSchema, type GroupId, type UserId } from './ids.js';
import { selfGroupId, selfGroupIdBytes, selfGroupOwner } from './self-group.js';

const userId = 'AAAAAAAAAAAAAAAAAAAAAA' as UserId;
const other = 'BBBBBBBBBBBBBBBBBBBBBB' as UserId;

describe('self group ids', () => {
  it('are a valid group id naming exactly their user', () => {
    const id = selfGroupId(userId);
    assert.ok(GroupIdSchema.safeParse(id).success);
    assert.equal(toBase64Url(selfGroupIdBytes(userId)), id);
    assert.equal(selfGroupOwner(id), userId);
    assert.notEqual(selfGroupId(other), id);
    assert.equal(selfGroupOwner(selfGroupId(other)), other);
  });

  it('ordinary ids are nobody’s; look-alikes of the prefix are reserved for nobody', () => {
    assert.equal(selfGroupOwner('AAEC' as GroupId), undefined);
    const bad = toBase64Url(new TextEncoder().encode('parley-self-v1:not-a-user-id')) as GroupId;
    assert.equal(selfGroupOwner(bad), null);
    const trailing = toBase64Url(new TextEncoder().encode(`parley-self-v1:${userId}x`)) as GroupId;
    assert.equal(selfGroupOwner(trailing), null);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (bytes) => {
        const owner = selfGroupOwner(toBase64Url(bytes) as GroupId);
        if (owner !== undefined && owner !== null) assert.equal(selfGroupId(owner), toBase64Url(bytes));
      }),
    );
  });
});
