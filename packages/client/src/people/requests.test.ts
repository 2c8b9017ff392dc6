import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toBase64Url } from '@parley/protocol';
import type { GroupId, UserId } from '@parley/protocol';
import type { ClientCore } from '../core/context.js';
import type { GroupState } from '../core/group-state.js';
import type { Outbox } from '../core/outbox.js';
import type { Conversations } from '../conversations/conversations.js';
import { MemoryStore } from '../store/memory-store.js';
import { ClientRepository, newConversationRecord, StoreBatch } from '../store/records.js';
import type { ConversationRecord } from '../store/records.js';
import { Blocks } from './blocks.js';
import { Contacts } from './contacts.js';
import { putBlock, putContact, putRequest } from './people-records.js';
import { PeopleSync } from './people-sync.js';
import { Requests } from './requests.js';

const id = () => toBase64Url(crypto.getRandomValues(new Uint8Array(16)));
const ME = id() as UserId;
const FRIEND = id() as UserId;
const STRANGER = id() as UserId;
const BLOCKED = id() as UserId;

/** What a Welcome becomes (Requests.decide) over a real store; only the store and this user's id are used. */
async function setup(): Promise<{ requests: Requests; repo: ClientRepository }> {
  const repo = new ClientRepository(new MemoryStore());
  const core = { repo, session: () => ({ account: { userId: ME } }), hiddenGroup: () => undefined } as unknown as ClientCore;
  const sync = new PeopleSync(core, {} as GroupState, {} as Outbox);
  const contacts = new Contacts(core, sync, Date.now);
  const blocks = new Blocks(core, sync, Date.now);
  await repo.commit(
    putBlock(putContact(new StoreBatch(), { userId: FRIEND, username: 'friend', nickname: null, addedAt: 1, updatedAt: 1, removed: false }), { userId: BLOCKED, username: 'blocked', blockedAt: 1, updatedAt: 1, blocked: true }),
  );
  await blocks.load();
  return { requests: new Requests(core, {} as GroupState, {} as Outbox, sync, contacts, blocks, {} as Conversations, Date.now), repo };
}

function record(patch: Partial<ConversationRecord> = {}): ConversationRecord {
  return { ...newConversationRecord({ id: id() as GroupId, title: null, kind: 'unknown', members: [] }), ...patch };
}

describe('what a Welcome becomes (Requests.decide)', () => {
  it('follows the inviter: self and contacts accepted, strangers pending, blocked refused', async () => {
    const { requests } = await setup();
    const g = id() as GroupId;
    assert.deepEqual(await requests.decide(g, ME, undefined, [ME, STRANGER]), {});
    assert.deepEqual(await requests.decide(g, FRIEND, undefined, [ME, FRIEND, STRANGER]), { invitedBy: FRIEND });
    assert.deepEqual(await requests.decide(g, STRANGER, undefined, [ME, STRANGER]), { request: 'pending', invitedBy: STRANGER });
    assert.deepEqual(await requests.decide(g, BLOCKED, undefined, [ME, BLOCKED]), { request: 'deleted', invitedBy: BLOCKED });
    // Inviter unknown: a request unless every other member is a contact.
    assert.deepEqual(await requests.decide(g, undefined, undefined, [ME, FRIEND]), {});
    assert.deepEqual(await requests.decide(g, undefined, undefined, [ME, FRIEND, STRANGER]), { request: 'pending' });
  });

  it('keeps what the device had (re-added, healing), refuses a blocked re-add except while healing, and follows other devices\u2019 decisions', async () => {
    const { requests, repo } = await setup();
    const accepted = record({ status: 'removed' });
    assert.deepEqual(await requests.decide(accepted.id, STRANGER, accepted, [ME, STRANGER]), { invitedBy: STRANGER }, 'an accepted conversation stays accepted');
    const pending = record({ request: 'pending', invitedBy: STRANGER });
    assert.deepEqual(await requests.decide(pending.id, FRIEND, pending, [ME]), { request: 'pending', invitedBy: STRANGER });
    assert.deepEqual(await requests.decide(accepted.id, BLOCKED, accepted, [ME, BLOCKED]), { request: 'deleted', invitedBy: BLOCKED }, 'a blocked user re-adding this user is refused');
    const healing = record({ status: 'rejoining' });
    assert.deepEqual(await requests.decide(healing.id, BLOCKED, healing, [ME, BLOCKED]), { invitedBy: BLOCKED }, 'healing by a blocked member keeps the conversation');

    const decidedElsewhere = id() as GroupId;
    const deletedElsewhere = id() as GroupId;
    await repo.commit(
      putRequest(putRequest(new StoreBatch(), { conversationId: decidedElsewhere, state: 'accepted', inviter: STRANGER, updatedAt: 5 }), { conversationId: deletedElsewhere, state: 'deleted', inviter: STRANGER, updatedAt: 5 }),
    );
    // Pending on another device, but its inviter is a contact here: accepted.
    const pendingThere = id() as GroupId;
    await repo.commit(putRequest(new StoreBatch(), { conversationId: pendingThere, state: 'pending', inviter: FRIEND, updatedAt: 5 }));
    assert.deepEqual(await requests.decide(pendingThere, ME, undefined, [ME, FRIEND]), { invitedBy: FRIEND });
    // This user's other device adds this one to conversations decided there.
    assert.deepEqual(await requests.decide(decidedElsewhere, ME, undefined, [ME, STRANGER]), { invitedBy: STRANGER });
    assert.deepEqual(await requests.decide(deletedElsewhere, ME, undefined, [ME, STRANGER]), { request: 'deleted', invitedBy: STRANGER });
    // A deleted request re-sent by its inviter is a request again.
    const tombstone = record({ id: deletedElsewhere, request: 'deleted', status: 'left', invitedBy: STRANGER });
    assert.deepEqual(await requests.decide(deletedElsewhere, STRANGER, tombstone, [ME, STRANGER]), { request: 'pending', invitedBy: STRANGER });
  });
});
