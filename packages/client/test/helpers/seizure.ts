import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { UserId } from '@parley/protocol';
import type { ParleyClient } from '../../src/index.js';
import { texts, waitFor, type ClientNetwork } from './network.js';

/** Every way a marker could sit in a file or log: raw UTF-8, UTF-16LE, base64 and base64url (all three alignments), hex. */
export function needles(marker: string): Array<{ how: string; bytes: Buffer }> {
  const utf8 = Buffer.from(marker, 'utf8');
  const out: Array<{ how: string; bytes: Buffer }> = [
    { how: 'utf8', bytes: utf8 },
    { how: 'utf16le', bytes: Buffer.from(marker, 'utf16le') },
    { how: 'hex', bytes: Buffer.from(utf8.toString('hex'), 'latin1') },
    { how: 'HEX', bytes: Buffer.from(utf8.toString('hex').toUpperCase(), 'latin1') },
  ];
  for (let k = 0; k < 3; k++) {
    const encoded = Buffer.concat([Buffer.alloc(k), utf8]).toString('base64');
    // Only the characters determined by marker bits alone: they appear whatever surrounds the marker.
    const from = Math.ceil((8 * k) / 6);
    const to = Math.floor((8 * (k + utf8.length)) / 6);
    const core = encoded.slice(from, to);
    out.push({ how: `base64/${k}`, bytes: Buffer.from(core, 'latin1') });
    out.push({ how: `base64url/${k}`, bytes: Buffer.from(core.replace(/\+/g, '-').replace(/\//g, '_'), 'latin1') });
  }
  return out;
}

export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path));
    else out.push(path);
  }
  return out;
}

export const marker = (label: string) => `${label}${randomBytes(12).toString('hex')}Zq`;


function userIdOf(client: ParleyClient): UserId {
  const id = client.userId;
  assert.ok(id !== undefined, 'signed in');
  return id;
}

/**
 * Moments (docs/moments.md): alice posts a text, a location and a photo (its
 * bytes and thumbnail carry markers) to a list whose name is a marker; bob
 * comments, likes and gets alice's reply. Waits until bob's device has the
 * post (and the photo) and alice's devices have the comment and the like.
 * Returns the markers.
 */
async function momentsWorkload(alice: ParleyClient, alice2: ParleyClient, bob: ParleyClient, ids: { alice: UserId; bob: UserId }): Promise<string[]> {
  const m = { list: marker('LIST'), text: marker('MOMENTTEXT'), place: marker('PLACE'), photo: marker('MOMENTPHOTO'), thumb: marker('THUMB'), comment: marker('COMMENT'), reply: marker('MOMENTREPLY') };
  const isFriend = async (c: ParleyClient, other: UserId) => (await c.moments.friends()).some((f) => f.userId === other);
  await waitFor(async () => (await isFriend(alice, ids.bob)) && (await isFriend(bob, ids.alice)) && (await isFriend(alice2, ids.bob)), 'alice and bob are friends', 20_000);
  const list = await alice.moments.saveList({ name: m.list, members: [ids.bob] });
  await waitFor(async () => (await alice2.moments.lists()).some((l) => l.name === m.list), 'alice 2 has the list', 20_000);
  const photo = Buffer.concat([randomBytes(2000), Buffer.from(m.photo), randomBytes(2000), Buffer.from(m.photo, 'utf16le')]);
  const thumbnail = Buffer.concat([randomBytes(300), Buffer.from(m.thumb), randomBytes(300)]);
  const post = await alice.moments.post({
    text: `A day at the lake ${m.text}`,
    location: `Near ${m.place}`,
    photos: [{ bytes: new Uint8Array(photo), mimeType: 'image/jpeg', width: 640, height: 480, thumbnail: { mimeType: 'image/jpeg', data: new Uint8Array(thumbnail) } }],
    audience: { kind: 'lists', lists: [list.id] },
  });
  assert.equal(post.sentTo, 1, 'the post went to the list (bob)');
  const arrived = await waitFor(async () => {
    const p = await bob.moments.get(post.id);
    return p?.state === 'ready' ? p : undefined;
  }, 'bob has the post', 20_000);
  assert.equal(arrived.text, `A day at the lake ${m.text}`);
  assert.equal(arrived.location, `Near ${m.place}`);
  assert.deepEqual(Buffer.from(arrived.photos[0]?.thumbnail?.data ?? []), thumbnail, 'the thumbnail arrived intact');
  assert.deepEqual(Buffer.from(await bob.moments.photo(post.id, 0)), photo, 'the photo arrived intact');
  const comment = await bob.moments.comment(post.id, `Lovely! ${m.comment}`);
  await bob.moments.like(post.id, true);
  for (const c of [alice, alice2]) {
    await waitFor(async () => {
      const p = await c.moments.get(post.id);
      return p !== null && p.comments.some((x) => x.text === `Lovely! ${m.comment}`) && p.likes.some((l) => l.author.userId === ids.bob);
    }, 'alice\'s devices have bob\'s comment and like', 20_000);
  }
  await alice.moments.comment(post.id, `Thanks ${m.reply}`, { replyTo: comment.id });
  await waitFor(async () => (await bob.moments.get(post.id))?.comments.some((x) => x.text === `Thanks ${m.reply}` && x.replyTo?.id === comment.id), 'bob has alice\'s reply', 20_000);
  return Object.values(m);
}

/** What the seizure tests read straight from the server's storage while the workload runs. */
export interface SeizureProbe {
  /** Group messages and Welcomes the server stores for this group. */
  storedMessages(groupId: string): Promise<number>;
}

export interface SeizureResult {
  /** Every marker the workload used (texts, title, attachment bytes, name and caption, voice bytes and waveform, device names, profile names, about line and picture, contact nicknames; a moment's text, location, photo and thumbnail bytes, its list's name, a comment and a reply). */
  markers: string[];
  /** The 1:1 conversation, fully delivered to every device: the server must store none of its messages. */
  delivered: string;
}

/**
 * Two users, three devices, each with a name as a person types it, each
 * user with a profile (name, about line, picture) and the other as a contact
 * under a nickname: a moment (text, location, photo) to a list of friends
 * with a comment, a like and a reply, 1:1 and group chat, a titled group, an attachment whose
 * bytes, name and caption carry markers, and a message left undelivered on
 * the server, and searches on every device. Waits until
 * the fully delivered 1:1 leaves no stored message (through the clients'
 * own acknowledgements, nothing sent for it), then takes one device offline.
 */
export async function seizureWorkload(net: ClientNetwork, probe: SeizureProbe): Promise<SeizureResult> {
  const markers: string[] = [];
  // Device names as people type them: a seized server must not hold them in any readable form.
  const deviceName = (typed: string) => `${typed} ${randomBytes(8).toString('hex')}`;
  const names = { alice: deviceName("Alice's work laptop"), alice2: deviceName("Alice's phone"), bob: deviceName("Bob's iPad") };
  markers.push(names.alice, names.alice2, names.bob);
  const alice = await net.user(undefined, { deviceName: names.alice });
  const bob = await net.user(undefined, { deviceName: names.bob });
  const alice2 = await net.device(alice, { deviceName: names.alice2 });

  // Profiles and contacts as people fill them in: a display name, an about line and a picture
  // (encrypted under the profile key, which travels only in MLS messages), and nicknames in contact
  // lists (synced between own devices through the self group). They are contacts first, so no
  // conversation below is a message request.
  const profile = { displayName: marker('DISPLAYNAME'), about: `About me: ${marker('ABOUT')}`, bobName: marker('BOBNAME') };
  const ids = { alice: userIdOf(alice.client), bob: userIdOf(bob.client) };
  const nicknames = { forBob: marker('NICKFORBOB'), forAlice: marker('NICKFORALICE') };
  const pictureMarker = marker('PICTURE');
  const picture = Buffer.concat([randomBytes(1500), Buffer.from(pictureMarker), randomBytes(1500)]);
  markers.push(profile.displayName, profile.about, profile.bobName, nicknames.forBob, nicknames.forAlice, pictureMarker);
  await alice.client.profiles.set({ displayName: profile.displayName, about: profile.about, picture: { bytes: new Uint8Array(picture), mimeType: 'image/jpeg' } });
  await bob.client.profiles.set({ displayName: profile.bobName });
  await bob.client.contacts.add(alice.name, { nickname: nicknames.forAlice });
  await alice.client.contacts.add(bob.name);
  await alice.client.contacts.setNickname(ids.bob, nicknames.forBob);
  await waitFor(async () => (await alice2.contacts.get(ids.bob))?.nickname === nicknames.forBob, 'alice 2 has the nickname for bob');

  // 1:1 (both of alice's devices and bob)
  const direct = await alice.client.createConversation([bob.name]);
  await waitFor(async () => (await bob.client.conversations()).length === 1 && (await alice2.conversations()).length === 1, 'join 1:1');
  // Typing indicators (ephemeral frames, never stored) travel during it too.
  let typingSeen = false;
  bob.client.on('typing', (e) => {
    if (e.conversationId === direct.id && e.typing) typingSeen = true;
  });
  await alice.client.setTyping(direct.id, true);
  await waitFor(() => typingSeen, 'bob sees alice typing');
  const t1 = marker('TEXTONE');
  const t2 = marker('TEXTTWO');
  markers.push(t1, t2);
  await alice.client.send(direct.id, `hello ${t1}`);
  // Bob replies at once: his acknowledgement of the first message rides on the reply, or (when he had
  // not read it yet) follows it and reaches over his own reply. Either way, once alice's devices have
  // read the reply, nothing of the 1:1 is needed.
  await bob.client.send(direct.id, t2);
  await alice.client.setTyping(direct.id, false);
  // The profile keys went into the 1:1: each side reads the other's profile (fetched and decrypted), picture included.
  await waitFor(async () => (await bob.client.profiles.get(ids.alice))?.about === profile.about, 'bob reads alice\'s profile', 20_000);
  assert.equal((await bob.client.profiles.get(ids.alice))?.displayName, profile.displayName);
  assert.deepEqual(Buffer.from((await bob.client.profiles.picture(ids.alice)) ?? []), picture, 'bob has alice\'s picture');
  for (const c of [alice.client, alice2]) await waitFor(async () => (await c.profiles.get(ids.bob))?.displayName === profile.bobName, 'alice\'s devices read bob\'s profile', 20_000);

  // Moments between the two friends (mutual contacts): a post to a list, a comment, a like and a reply.
  markers.push(...(await momentsWorkload(alice.client, alice2, bob.client, ids)));

  // a titled group with an attachment whose bytes, name and caption carry markers
  const title = marker('TITLE');
  markers.push(title);
  const group = await bob.client.createConversation([alice.name], { title });
  await waitFor(async () => (await alice2.conversations()).some((c) => c.id === group.id && c.title === title), 'join group');
  const fileMarker = marker('FILEBODY');
  const nameMarker = marker('FILENAME');
  const captionMarker = marker('CAPTION');
  markers.push(fileMarker, nameMarker, captionMarker);
  const file = Buffer.concat([randomBytes(3000), Buffer.from(fileMarker), randomBytes(3000), Buffer.from(fileMarker, 'utf16le')]);
  await alice2.send(group.id, { attachment: new Uint8Array(file), mimeType: 'text/plain', fileName: `${nameMarker}.txt`, caption: captionMarker });
  // a voice message whose recording and waveform carry markers
  const voiceMarker = marker('VOICEBODY');
  const waveMarker = marker('WAVEFORM');
  markers.push(voiceMarker, waveMarker);
  const voice = Buffer.concat([randomBytes(2000), Buffer.from(voiceMarker), randomBytes(2000)]);
  await alice.client.send(group.id, { voice: new Uint8Array(voice), mimeType: 'audio/ogg;codecs=opus', durationMs: 2500, waveform: new Uint8Array(Buffer.from(waveMarker)) });
  const t3 = marker('TEXTTHREE');
  markers.push(t3);
  const sent3 = await bob.client.send(group.id, t3);
  // A reply, a reaction, an edit and a delete for everyone, each carrying markers (the emoji is a rare 15-byte sequence).
  const replyMarker = marker('REPLY');
  const editMarker = marker('EDITED');
  const deletedMarker = marker('DELETEDTEXT');
  const emoji = '👨🏿‍🚀';
  markers.push(replyMarker, editMarker, deletedMarker, emoji);
  const ref3 = { seq: sent3.seq, id: sent3.id };
  await waitFor(async () => (await alice.client.message(group.id, sent3.seq)) !== null, 'alice has the third text');
  await alice.client.send(group.id, replyMarker, { replyTo: ref3 });
  await alice.client.react(group.id, ref3, emoji);
  await bob.client.editMessage(group.id, ref3, `${t3} ${editMarker}`);
  const doomed = await alice2.send(group.id, deletedMarker);
  await alice2.deleteForEveryone(group.id, { seq: doomed.seq, id: doomed.id });

  for (const c of [alice.client, alice2, bob.client]) {
    await waitFor(async () => {
      const group3 = await texts(c, group.id);
      return (await texts(c, direct.id)).length === 2 && group3.length === 5 && group3.includes('[deleted]') && group3.includes(`${t3} ${editMarker}`);
    }, 'everyone has everything');
    const m3 = await c.message(group.id, sent3.seq);
    assert.deepEqual(m3?.reactions.map((r) => r.emoji), [emoji], 'the reaction arrived');
  }
  // Search runs on the device: what is searched for (found or not) never reaches the server.
  const queryMarker = marker('SEARCHQUERY');
  markers.push(queryMarker);
  for (const c of [alice.client, alice2, bob.client]) {
    const found = await c.search.query(editMarker);
    assert.deepEqual(found.map((r) => r.seq), [sent3.seq], 'the edited text is found by its new words');
    assert.deepEqual(await c.search.query(queryMarker), []);
    assert.deepEqual(await c.search.query(deletedMarker), [], 'a message deleted for everyone left the index');
  }
  // Everyone reads everything: delivery and read receipts (stored group messages) go both ways.
  for (const c of [alice.client, alice2, bob.client]) {
    for (const id of [direct.id, group.id]) {
      const last = (await c.messages(id)).at(-1);
      if (last !== undefined) await c.markRead(id, last.seq);
    }
  }
  await waitFor(async () => (await alice.client.messages(direct.id)).find((m) => m.outgoing)?.status === 'read', 'alice sees that bob read the 1:1');
  await waitFor(async () => (await bob.client.messages(group.id)).find((m) => m.outgoing)?.status === 'read', 'bob sees that alice read the group');
  const [att] = (await alice.client.messages(group.id)).filter((m) => m.content.type === 'attachment');
  assert.ok(att);
  assert.deepEqual(Buffer.from(await alice.client.downloadAttachment(att)), file, 'the attachment arrived intact');
  const [voiceMessage] = (await bob.client.messages(group.id)).filter((m) => m.content.type === 'voice');
  assert.ok(voiceMessage);
  assert.deepEqual(Buffer.from(await bob.client.attachment(voiceMessage)), voice, 'the voice message arrived intact');
  // Delete on delivery: every device read the 1:1, so the server keeps none of it — the sender of
  // its last message included, without anyone sending anything more to it.
  await waitFor(async () => (await probe.storedMessages(direct.id)) === 0, 'the delivered 1:1 leaves no stored message');
  // Disappearing messages and conversation preferences: the timer, a message under it and the
  // preferences (self group) travel encrypted; the server stores only the group's retention.
  await bob.client.setDisappearing(group.id, 60 * 60_000);
  const t5 = marker('DISAPPEARING');
  markers.push(t5);
  await bob.client.send(group.id, t5);
  await alice.client.setConversationPrefs(group.id, { pinned: true, muted: true });
  await waitFor(async () => (await alice2.conversation(group.id)).pinned && (await texts(alice2, group.id)).includes(t5), 'alice 2 has the preferences and the message');
  // A device that goes offline leaves undelivered ciphertext on the server: include that case.
  await bob.client.close();
  const t4 = marker('UNDELIVERED');
  markers.push(t4);
  await alice.client.send(group.id, t4);
  await new Promise((r) => setTimeout(r, 200));
  return { markers, delivered: direct.id };
}
