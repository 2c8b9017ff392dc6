import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { bytesEqual, MAX_TYPING_BYTES, type GroupId } from '@parley/protocol';
import { TYPING_BURST } from '../src/services/typing.js';
import { mlsMessage, newGroupId, TestNetwork, type TestAccount, type TestSocket } from './helpers/test-network.js';

async function groupOf(creator: TestAccount, sock: TestSocket, members: TestAccount[]): Promise<GroupId> {
  const g = newGroupId();
  assert.equal((await creator.post('/v1/groups', { groupId: g.id })).status, 201);
  const r = await sock.commit(g.id, 0, [creator.deviceId, ...members.map((m) => m.deviceId)], members.map((m) => m.deviceId));
  assert.equal(r.t, 'ok', JSON.stringify(r));
  return g.id;
}

/** Every frame sent before it on this socket has been handled once the pong is back (frames are handled in order). */
async function settled(sock: TestSocket): Promise<void> {
  assert.equal((await sock.request({ t: 'ping' })).t, 'pong');
}

function typingFrames(sock: TestSocket) {
  return sock.received.filter((r) => r.frame.t === 'typing');
}

function storedPayloads(net: TestNetwork): Uint8Array[] {
  const db = new Database(join(net.dataDir, 'parley.db'), { readonly: true });
  try {
    return (db.prepare('SELECT payload FROM group_messages').all() as Array<{ payload: Buffer }>).map((r) => new Uint8Array(r.payload));
  } finally {
    db.close();
  }
}

describe('typing frames (ephemeral)', () => {
  it('are forwarded to connected member devices only, never stored, never delivered after a reconnect', async () => {
    await using net = await TestNetwork.start();
    const [alice, bob, carol, dave] = [await net.register(), await net.register(), await net.register(), await net.register()];
    const a = await alice.connect();
    const b = await bob.connect();
    const d = await dave.connect();
    const group = await groupOf(alice, a, [bob, carol]);
    await b.waitFor((r) => r.frame.t === 'msg' && r.frame.kind === 'welcome');
    // bob's backlog is done: he is live.
    await b.waitFor((r) => r.frame.t === 'synced');
    const storedBefore = storedPayloads(net).length;

    const payload = mlsMessage(group, 1, 'application', randomBytes(200));
    a.sendFrame({ t: 'typing', group }, [payload]);
    const got = await b.waitFor((r) => r.frame.t === 'typing');
    assert.deepEqual(got.frame, { t: 'typing', group, epoch: 1 });
    assert.ok(bytesEqual(got.payload, payload), 'forwarded byte for byte');
    await settled(a);
    await settled(d);
    assert.equal(typingFrames(a).length, 0, 'not echoed to the sender');
    assert.equal(typingFrames(d).length, 0, 'not to a non-member');
    assert.equal(a.received.filter((r) => r.frame.t === 'error').length, 0, 'no reply to a typing frame');

    // Nothing stored: no new row, and the bytes are nowhere in the message table.
    const stored = storedPayloads(net);
    assert.equal(stored.length, storedBefore);
    assert.ok(!stored.some((p) => bytesEqual(p, payload)));

    // carol was offline: she gets her Welcome and nothing else; bob reconnects and gets no typing frame again.
    const c = await carol.connect();
    await c.waitFor((r) => r.frame.t === 'synced');
    assert.equal(typingFrames(c).length, 0);
    b.close();
    const b2 = await bob.connect();
    await b2.waitFor((r) => r.frame.t === 'synced');
    await settled(b2);
    assert.equal(typingFrames(b2).length, 0);

    // No log line carries the payload.
    const hex = Buffer.from(payload.subarray(payload.length - 32)).toString('hex');
    const b64 = Buffer.from(payload.subarray(payload.length - 32)).toString('base64');
    assert.ok(!net.logs.some((l) => l.includes(hex) || l.includes(b64)));
  });

  it('refuses non-members, oversize and non-application payloads with typed errors, and drops the excess over the rate limit silently', async () => {
    await using net = await TestNetwork.start();
    const [alice, bob, dave] = [await net.register(), await net.register(), await net.register()];
    const a = await alice.connect();
    const b = await bob.connect();
    const d = await dave.connect();
    const group = await groupOf(alice, a, [bob]);
    await b.waitFor((r) => r.frame.t === 'synced');

    const errorAfter = async (sock: TestSocket, header: object, parts: Uint8Array[]) => {
      const from = sock.received.length;
      sock.sendFrame(header, parts);
      const r = await sock.waitFor((x) => x.frame.t === 'error', 5000, from);
      return r.frame.t === 'error' ? r.frame.code : undefined;
    };
    assert.equal(await errorAfter(d, { t: 'typing', group }, [mlsMessage(group, 1, 'application', randomBytes(50))]), 'not_member');
    assert.equal(await errorAfter(a, { t: 'typing', group }, [mlsMessage(group, 1, 'application', randomBytes(MAX_TYPING_BYTES))]), 'payload_too_large');
    assert.equal(await errorAfter(a, { t: 'typing', group }, [randomBytes(100)]), 'invalid_mls_message');
    assert.equal(await errorAfter(a, { t: 'typing', group }, [mlsMessage(group, 1, 'commit', randomBytes(50))]), 'bad_request');
    assert.equal(await errorAfter(a, { t: 'typing', group }, []), 'bad_request');
    assert.equal(await errorAfter(a, { t: 'typing', group: newGroupId().id }, [mlsMessage(group, 1, 'application', randomBytes(50))]), 'invalid_mls_message');
    assert.equal(await errorAfter(a, { t: 'typing' }, [mlsMessage(group, 1, 'application')]), 'bad_request');
    await settled(b);
    assert.equal(typingFrames(b).length, 0, 'nothing refused was forwarded');

    // A burst of 30: at most the bucket's burst (and what refilled meanwhile) goes through; no error for the rest.
    const from = a.received.length;
    for (let i = 0; i < 30; i++) a.sendFrame({ t: 'typing', group }, [mlsMessage(group, 1, 'application', randomBytes(40))]);
    await settled(a);
    await settled(b);
    const forwarded = typingFrames(b).length;
    assert.ok(forwarded >= TYPING_BURST && forwarded <= TYPING_BURST + 2, `forwarded ${forwarded}`);
    assert.equal(a.received.slice(from).filter((r) => r.frame.t === 'error').length, 0, 'the excess is dropped silently');
    // The connection is fine afterwards.
    assert.equal((await a.send(group, 1)).t, 'ok');
  });
});
