import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BlobDigest, GroupId, UserId } from '@parley/protocol';
import { ClientError } from '../errors.js';
import { decodeSelfMessage, encodeSelfMessage } from '../self/self-messages.js';
import { MemoryStore } from '../store/memory-store.js';
import { StoreBatch } from '../store/records.js';
import { checkInput } from './profile-input.js';
import { MAX_KEYS_PER_USER, ProfileRecords } from './profile-records.js';
import { acceptsProfileKey, membersDigest } from './profile-sharing.js';

const alice = 'AAAAAAAAAAAAAAAAAAAAAA' as UserId;
const bob = 'BBBBBBBBBBBBBBBBBBBBBB' as UserId;
const conv = 'Q29udmVyc2F0aW9u' as GroupId;
const key = (n: number) => new Uint8Array(32).fill(n);

async function write(store: MemoryStore, fill: (b: StoreBatch) => void): Promise<void> {
  const batch = new StoreBatch();
  fill(batch);
  await store.write(batch.writes);
}

describe('profiles: records', () => {
  it('round-trips every record, and reads a corrupt or misfiled one as absent', async () => {
    const store = new MemoryStore();
    const records = new ProfileRecords(store);
    const picture = { digest: 'ab'.repeat(32) as BlobDigest, key: key(3), nonce: new Uint8Array(12).fill(4), size: 10, mimeType: 'image/png' as const };
    await write(store, (b) => {
      records.putOwnKey(b, { key: key(1), createdAt: 5 });
      records.putUserKeys(b, { userId: bob, keys: [{ key: key(2), receivedAt: 7 }] });
      records.putCached(b, { userId: bob, version: 'v'.repeat(43), displayName: 'Bob', about: null, picture, updatedAt: 9, fetchedAt: 10 });
      records.putPicture(b, bob, picture.digest, Uint8Array.of(1, 2, 3));
      records.putShared(b, { conversationId: conv, version: 'v'.repeat(43), members: 'm' });
    });
    assert.deepEqual(await records.ownKey(), { key: key(1), createdAt: 5 });
    assert.deepEqual((await records.userKeys(bob))?.keys, [{ key: key(2), receivedAt: 7 }]);
    assert.deepEqual(await records.usersWithKeys(), [bob]);
    assert.equal((await records.cached(bob))?.displayName, 'Bob');
    assert.deepEqual((await records.cached(bob))?.picture, picture);
    assert.deepEqual(await records.picture(bob, picture.digest), Uint8Array.of(1, 2, 3));
    assert.equal(await records.picture(bob, 'cd'.repeat(32) as BlobDigest), undefined, 'another picture’s bytes are not handed out');
    assert.equal((await records.shared(conv))?.members, 'm');

    // A record filed under another user, a name that is not canonical, garbage: absent (fetched again).
    await store.write([
      { type: 'put', table: 'meta', key: `profile/key/${alice}`, value: (await store.get('meta', `profile/key/${bob}`)) ?? '' },
      { type: 'put', table: 'meta', key: `profile/cache/${bob}`, value: JSON.stringify({ v: 1, userId: bob, version: 'v'.repeat(43), displayName: ' Bob', about: null, picture: null, updatedAt: 1, fetchedAt: 1 }) },
      { type: 'put', table: 'meta', key: 'profile/own-key', value: '{"v":1,"key":"AAAA","createdAt":1}' },
    ]);
    assert.equal(await records.userKeys(alice), undefined);
    assert.deepEqual(await records.usersWithKeys(), [bob]);
    assert.equal(await records.cached(bob), undefined);
    assert.equal(await records.ownKey(), undefined);
  });

  it('keeps at most a few keys per user, and reads a batch before it is stored', async () => {
    const store = new MemoryStore();
    const records = new ProfileRecords(store);
    const batch = new StoreBatch();
    records.putUserKeys(batch, { userId: bob, keys: [1, 2, 3, 4, 5, 6].map((n) => ({ key: key(n), receivedAt: n })) });
    assert.equal((await records.userKeys(bob, batch))?.keys.length, MAX_KEYS_PER_USER);
    assert.equal(await records.userKeys(bob), undefined, 'not stored yet');
  });
});

describe('profiles: the own key in the self group', () => {
  it('round-trips and refuses a key that is not 32 bytes', () => {
    const decoded = decodeSelfMessage(encodeSelfMessage({ kind: 'profile_key', key: key(9), createdAt: 1_700_000_000_000 }));
    assert.ok(decoded.ok);
    assert.deepEqual(decoded.message, { kind: 'profile_key', key: key(9), createdAt: 1_700_000_000_000 });
    for (const bad of [{ key: 'AAAA', createdAt: 1 }, { key: Buffer.from(key(1)).toString('base64url'), createdAt: -1 }, { createdAt: 1 }]) {
      const r = decodeSelfMessage(new TextEncoder().encode(JSON.stringify({ type: 'x-parley-self', v: 1, kind: 'profile_key', ...bad })));
      assert.equal(r.ok, false);
    }
  });
});

describe('profiles: sharing rules and input', () => {
  const base = { id: conv, title: null, members: [{ userId: alice, username: 'alice', devices: [] }, { userId: bob, username: 'bob', devices: [] }], status: 'active' as const, createdAt: 0, lastSeq: 0, ownSeqs: [], readSeq: 0, unread: 0, lastMessageSeq: null };

  it('shares only into active, accepted conversations with someone else, never the self group', () => {
    assert.equal(acceptsProfileKey(base, alice, undefined), true);
    assert.equal(acceptsProfileKey({ ...base, request: 'pending' }, alice, undefined), false);
    assert.equal(acceptsProfileKey({ ...base, request: 'deleted' }, alice, undefined), false);
    assert.equal(acceptsProfileKey({ ...base, status: 'left' }, alice, undefined), false);
    assert.equal(acceptsProfileKey(base, alice, conv), false);
    assert.equal(acceptsProfileKey({ ...base, members: [base.members[0] as (typeof base.members)[0]] }, alice, undefined), false);
  });

  it('the member digest depends on the users, not their order', async () => {
    const reversed = await membersDigest({ members: [...base.members].reverse() });
    assert.equal(await membersDigest(base), reversed);
    assert.notEqual(await membersDigest({ members: base.members.slice(0, 1) }), reversed);
  });

  it('checks and normalizes input before anything else happens', () => {
    assert.deepEqual(checkInput({ displayName: '  Ada \t Lovelace ', about: '', picture: undefined }), { displayName: 'Ada Lovelace', about: null, picture: undefined });
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return err instanceof ClientError ? err.code : 'other';
      }
      return 'none';
    };
    assert.equal(code(() => checkInput({ displayName: 'x'.repeat(65) })), 'too_large');
    assert.equal(code(() => checkInput({ picture: { bytes: new Uint8Array(512 * 1024 + 1), mimeType: 'image/jpeg' } })), 'too_large');
    assert.equal(code(() => checkInput({ displayName: 42 as unknown as string })), 'bad_request');
    assert.equal(code(() => checkInput({ about: 'a\u2067b' })), 'bad_request');
    assert.equal(code(() => checkInput({ picture: { bytes: new Uint8Array(0), mimeType: 'image/jpeg' } })), 'bad_request');
    assert.equal(code(() => checkInput(null as unknown as object)), 'bad_request');
  });
});
