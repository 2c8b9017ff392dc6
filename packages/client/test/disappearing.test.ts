import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DISAPPEAR_TIMERS_MS } from '@parley/crypto';
import { GROUP_RETENTION_SECONDS } from '@parley/protocol';
import type { GroupId } from '@parley/protocol';
import { ClientError, MemoryStore } from '../src/index.js';
import type { ExpiredEvent, ParleyClient } from '../src/index.js';
import { runMaintenance } from '../../server/src/maintenance.js';
import { ClientNetwork, texts, waitFor } from './helpers/network.js';

const FIVE_MINUTES = 5 * 60_000;

/** One clock for every client of a test, moved forward instead of waiting. */
function testClock(): { now: () => number; advance(ms: number): void } {
  let offset = 0;
  return { now: () => Date.now() + offset, advance: (ms) => void (offset += ms) };
}

async function expiryKeys(store: MemoryStore): Promise<string[]> {
  return (await store.list('meta', { prefix: 'expiry/' })).map((e) => e.key);
}

describe('client: disappearing messages', () => {
  it('a timer set by one member applies on every device; each device deletes the message, its media and its index entry at expiresAt', async () => {
    await using net = await ClientNetwork.start();
    const clock = testClock();
    const stores = { a1: new MemoryStore(), a2: new MemoryStore(), bob: new MemoryStore() };
    const alice = await net.user(undefined, { now: clock.now, store: stores.a1 });
    const a2 = await net.device(alice, { now: clock.now, store: stores.a2 });
    const bob = await net.user(undefined, { now: clock.now, store: stores.bob });
    const devices: Array<[string, ParleyClient, MemoryStore]> = [
      ['alice', alice.client, stores.a1],
      ['alice 2', a2, stores.a2],
      ['bob', bob.client, stores.bob],
    ];
    const conv = await alice.client.createConversation([bob.name]);
    for (const [who, c] of devices) await waitFor(async () => (await c.conversations()).some((x) => x.id === conv.id && x.kind !== null), `${who} joins`);
    assert.equal(conv.disappearAfterMs, null);
    await alice.client.send(conv.id, 'before the timer');

    // Bad values are refused, typed, before anything is sent.
    for (const bad of [0, 1234, -FIVE_MINUTES, FIVE_MINUTES + 1, Number.NaN, '300000' as unknown as number]) {
      await assert.rejects(bob.client.setDisappearing(conv.id, bad), (err: unknown) => err instanceof ClientError && err.code === 'bad_request', `refused: ${String(bad)}`);
    }
    assert.deepEqual(GROUP_RETENTION_SECONDS.map((s) => s * 1000), [...DISAPPEAR_TIMERS_MS], 'the server allows exactly the clients’ timers');

    // Bob (any member) sets it; everyone sees the setting in the chat and the timer on the conversation.
    const updated = await bob.client.setDisappearing(conv.id, FIVE_MINUTES);
    assert.equal(updated.disappearAfterMs, FIVE_MINUTES);
    for (const [who, c] of devices) {
      await waitFor(async () => (await c.conversation(conv.id)).disappearAfterMs === FIVE_MINUTES, `${who} has the timer`);
      const setting = (await c.messages(conv.id)).find((m) => m.content.type === 'settings');
      assert.ok(setting?.content.type === 'settings' && setting.content.disappearAfterMs === FIVE_MINUTES && setting.sender.username === bob.name, `${who} shows who set it`);
      assert.equal(setting.expiresAt, null, 'the announcement itself stays');
    }
    await waitFor(async () => (await net.server.ctx.storage.groupRetention(conv.id)) === 300, 'the server keeps the group’s messages no longer than the timer');

    // Messages after it expire sentAt + 5 min, on every device; a photo is kept on the devices until then.
    const secret = await bob.client.send(conv.id, 'this disappears');
    const photo = await alice.client.send(conv.id, { attachment: new Uint8Array(2048).fill(7), mimeType: 'image/png', fileName: 'p.png' });
    assert.equal(secret.expiresAt, secret.sentAt + FIVE_MINUTES);
    for (const [who, c, store] of devices) {
      await waitFor(async () => (await c.messages(conv.id)).length === 4, `${who} has all four`);
      const byText = await c.messages(conv.id);
      assert.equal(byText[0]?.expiresAt, null, `${who}: the message from before the timer does not expire`);
      assert.equal(byText.find((m) => m.seq === secret.seq)?.expiresAt, secret.sentAt + FIVE_MINUTES, who);
      assert.equal(byText.find((m) => m.seq === photo.seq)?.expiresAt, photo.sentAt + FIVE_MINUTES, who);
      assert.equal((await expiryKeys(store)).length, 2, `${who} indexed both`);
      await waitFor(async () => (await c.mediaUsage()).files === 1, `${who} keeps the photo`);
    }

    const expired = new Map<ParleyClient, ExpiredEvent[]>();
    for (const [, c] of devices) c.on('expired', (e) => expired.set(c, [...(expired.get(c) ?? []), e]));
    // Not yet: a minute early nothing goes.
    clock.advance(FIVE_MINUTES - 60_000);
    for (const [, c] of devices) await c.testing.expireNow();
    for (const [who, c] of devices) assert.equal((await c.messages(conv.id)).length, 4, `${who}: nothing expired early`);
    clock.advance(61_000);
    for (const [, c] of devices) await c.testing.expireNow();
    for (const [who, c, store] of devices) {
      assert.deepEqual(await texts(c, conv.id), ['before the timer', '[settings]'], `${who}: both are gone`);
      assert.deepEqual(expired.get(c), [{ conversationId: conv.id, seqs: [secret.seq, photo.seq] }], `${who}: one expired event`);
      assert.deepEqual(await expiryKeys(store), [], `${who}: the index is empty`);
      assert.equal((await c.mediaUsage()).files, 0, `${who}: the photo's bytes are gone`);
      assert.equal((await c.messages(conv.id)).find((m) => m.seq === secret.seq), undefined);
      const summary = (await c.conversationSummaries()).find((s) => s.id === conv.id);
      assert.equal(summary?.lastMessage?.content.type, 'settings', `${who}: the last message is the one before`);
      const unread = (await c.messages(conv.id)).filter((m) => m.seq > (summary?.readSeq ?? 0) && m.sender.userId !== c.userId).length;
      assert.equal(summary?.unread, unread, `${who}: unread counts only what is left`);
    }

    // Off again: later messages stay; the server's default retention is back.
    await alice.client.setDisappearing(conv.id, null);
    for (const [who, c] of devices) await waitFor(async () => (await c.conversation(conv.id)).disappearAfterMs === null, `${who}: off`);
    await waitFor(async () => (await net.server.ctx.storage.groupRetention(conv.id)) === null, 'the server is told');
    const kept = await bob.client.send(conv.id, 'this stays');
    assert.equal(kept.expiresAt, null);
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('the server deletes the group’s messages for a device that stays offline past the timer, and a device back late deletes what is due at start', async () => {
    await using net = await ClientNetwork.start();
    const clock = testClock();
    const alice = await net.user(undefined, { now: clock.now });
    const bobStore = new MemoryStore();
    const bob = await net.user(undefined, { now: clock.now, store: bobStore });
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'bob joins');
    await alice.client.setDisappearing(conv.id, FIVE_MINUTES);
    await waitFor(async () => (await bob.client.conversation(conv.id)).disappearAfterMs === FIVE_MINUTES, 'bob has the timer');
    await waitFor(async () => (await net.server.ctx.storage.groupRetention(conv.id)) === 300, 'the server has the retention');
    const seen = await alice.client.send(conv.id, 'bob reads this one');
    await waitFor(async () => (await texts(bob.client, conv.id)).includes('bob reads this one'), 'bob receives');
    await bob.client.close();

    await alice.client.send(conv.id, 'bob is offline for this one');
    const waiting = async () => (await net.server.ctx.storage.pendingMessages(bob.client.deviceId as never, undefined, 100)).filter((m) => m.groupId === conv.id && m.kind === 'application');
    assert.ok((await waiting()).length >= 1, 'stored for bob');
    // The server's maintenance runs every interval on its own clock: now, then six minutes on.
    const serverNow = Math.floor(Date.now() / 1000);
    let serverOffset = 0;
    (net.server.ctx as { clock: { now(): number } }).clock = { now: () => serverNow + serverOffset };
    await runMaintenance(net.server.ctx);
    assert.ok((await waiting()).length >= 1, 'not yet');
    serverOffset = 6 * 60;
    await runMaintenance(net.server.ctx);
    assert.deepEqual(await waiting(), [], 'gone from the server');

    // Bob comes back six minutes later: the message he had expires at start; the one he missed never arrives.
    clock.advance(6 * 60_000);
    const back = await net.client({ store: bobStore, now: clock.now });
    await back.whenSynced();
    await waitFor(async () => (await back.messages(conv.id)).every((m) => m.seq !== seen.seq), 'the message bob had is deleted at start');
    assert.deepEqual(await texts(back, conv.id), ['[settings]']);
    assert.deepEqual(await expiryKeys(bobStore), []);
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('a member added later and a device linked later learn the timer (from the roster) and expire what they get', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const bob = await net.user();
    const carol = await net.user();
    const conv = await alice.client.createConversation([bob.name], { title: 'later' });
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'bob joins');
    await alice.client.setDisappearing(conv.id, FIVE_MINUTES);
    await waitFor(async () => (await bob.client.conversation(conv.id)).disappearAfterMs === FIVE_MINUTES, 'bob has the timer');
    await alice.client.addMembers(conv.id, [carol.name]);
    const bob2 = await net.device(bob);
    for (const [who, c] of [['carol', carol.client], ['bob 2', bob2]] as const) {
      await waitFor(async () => (await c.conversations()).some((x) => x.id === conv.id && x.disappearAfterMs === FIVE_MINUTES), `${who} joins with the timer`);
    }
    const m = await alice.client.send(conv.id, 'to everyone, for five minutes');
    for (const [who, c] of [['carol', carol.client], ['bob 2', bob2]] as const) {
      await waitFor(async () => (await c.messages(conv.id)).find((x) => x.seq === m.seq)?.expiresAt === m.sentAt + FIVE_MINUTES, `${who} expires it too`);
    }
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('a setting processed late does not undo a newer one (by seq), on the devices and at the server', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const bob = await net.user();
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'bob joins');
    await alice.client.setDisappearing(conv.id, 60 * 60_000);
    await bob.client.setDisappearing(conv.id, FIVE_MINUTES);
    for (const c of [alice.client, bob.client]) await waitFor(async () => (await c.messages(conv.id)).filter((m) => m.content.type === 'settings').length === 2, 'both settings arrive');
    for (const c of [alice.client, bob.client]) assert.equal((await c.conversation(conv.id)).disappearAfterMs, FIVE_MINUTES);
    await waitFor(async () => (await net.server.ctx.storage.groupRetention(conv.id)) === 300, 'the server has the newer one');
    // A device reporting the older setting again (late) changes nothing at the server.
    const first = (await bob.client.messages(conv.id)).find((m) => m.content.type === 'settings');
    const r = await fetch(`${net.url}/v1/groups/${conv.id}/retention`, { method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${await tokenOf(alice.client)}` }, body: JSON.stringify({ seconds: 3600, seq: first?.seq }) });
    assert.deepEqual(await r.json(), { seconds: 300 });
  });
});

describe('client: mute, pin, archive', () => {
  it('syncs across the user’s devices (latest wins); pinned first; a message unarchives unless muted; bad values refused', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const bob = await net.user();
    const carol = await net.user();
    const a2 = await net.device(alice);
    const withBob = await alice.client.createConversation([bob.name]);
    const withCarol = await alice.client.createConversation([carol.name]);
    for (const c of [a2, bob.client]) await waitFor(async () => (await c.conversations()).some((x) => x.id === withBob.id), 'joined');
    await waitFor(async () => (await a2.conversations()).length === 2, 'alice 2 has both');
    await carol.client.send(withCarol.id, 'newest activity');
    await waitFor(async () => (await a2.conversationSummaries())[0]?.id === withCarol.id, 'carol’s chat is the newest');
    assert.deepEqual(await alice.client.conversation(withBob.id).then((c) => [c.muted, c.pinned, c.archived]), [false, false, false]);

    await assert.rejects(alice.client.setConversationPrefs(withBob.id, { muted: 'yes' as unknown as boolean }), (err: unknown) => err instanceof ClientError && err.code === 'bad_request');
    await assert.rejects(alice.client.setConversationPrefs('AAAAAAAAAAAAAAAAAAAAAA' as GroupId, { pinned: true }), (err: unknown) => err instanceof ClientError && err.code === 'unknown_conversation');

    const pinned = await alice.client.setConversationPrefs(withBob.id, { pinned: true });
    assert.deepEqual([pinned.muted, pinned.pinned, pinned.archived], [false, true, false]);
    await waitFor(async () => (await a2.conversation(withBob.id)).pinned, 'the other device has it pinned');
    assert.deepEqual((await a2.conversationSummaries()).map((s) => s.id), [withBob.id, withCarol.id], 'pinned first');
    assert.equal((await bob.client.conversation(withBob.id)).pinned, false, 'only this user’s devices');

    // Archive and mute on the second device: the first follows; only the given fields change.
    await a2.setConversationPrefs(withBob.id, { archived: true, muted: true });
    await waitFor(async () => (await alice.client.conversation(withBob.id)).archived, 'archived on the first device');
    assert.deepEqual(await alice.client.conversation(withBob.id).then((c) => [c.muted, c.pinned, c.archived]), [true, true, true]);
    assert.equal((await alice.client.conversationSummaries()).find((s) => s.id === withBob.id)?.archived, true, 'flagged in the summaries');

    // Muted: a new message keeps it archived. Unmuted: the next one brings it back, on both devices.
    await bob.client.send(withBob.id, 'while muted');
    for (const c of [alice.client, a2]) await waitFor(async () => (await texts(c, withBob.id)).includes('while muted'), 'arrives');
    for (const c of [alice.client, a2]) assert.equal((await c.conversation(withBob.id)).archived, true);
    await alice.client.setConversationPrefs(withBob.id, { muted: false });
    await waitFor(async () => !(await a2.conversation(withBob.id)).muted, 'unmuted on both');
    await bob.client.send(withBob.id, 'not muted any more');
    for (const c of [alice.client, a2]) await waitFor(async () => !(await c.conversation(withBob.id)).archived, 'unarchived by the message');
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('a device linked later gets the preferences set before it existed', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const bob = await net.user();
    const conv = await alice.client.createConversation([bob.name]);
    const other = await alice.client.createConversation([bob.name], { title: 'untouched' });
    await alice.client.setConversationPrefs(conv.id, { pinned: true, archived: true });
    const a2 = await net.device(alice);
    await waitFor(async () => (await a2.conversations()).some((c) => c.id === conv.id && c.pinned && c.archived), 'the new device has them');
    await waitFor(async () => (await a2.conversations()).some((c) => c.id === other.id), 'and the other conversation');
    assert.deepEqual(await a2.conversation(other.id).then((c) => [c.muted, c.pinned, c.archived]), [false, false, false]);
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });
});

async function tokenOf(client: ParleyClient): Promise<string> {
  // The test reads the stored account record for its bearer token (an application never needs it).
  const store = (client as unknown as { options: { store: MemoryStore } }).options.store;
  const text = await store.get('meta', 'account');
  return (JSON.parse(text ?? '{}') as { token: string }).token;
}
