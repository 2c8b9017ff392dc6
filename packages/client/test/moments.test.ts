import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { BlobDigest, UserId } from '@parley/protocol';
import { MAX_MOMENT_PHOTO_BYTES } from '../src/index.js';
import type { MomentPost, ParleyClient } from '../src/index.js';
import { encodeContent, newContentId } from '@parley/crypto';
import type { Features } from '../src/features.js';
import type { Outbox } from '../src/core/outbox.js';
import { splitFrame } from '@parley/protocol';
import { isClientError } from './helpers/errors.js';
import { RecordingSockets } from './helpers/sockets.js';
import { ClientNetwork, waitFor } from './helpers/network.js';

type User = Awaited<ReturnType<ClientNetwork['user']>>;

/** Both add each other: friends once the hellos are through. */
async function befriend(a: User, b: User): Promise<void> {
  await a.client.contacts.add(b.name);
  await b.client.contacts.add(a.name);
  await waitFor(async () => (await a.client.moments.friends()).some((f) => f.userId === b.client.userId), `${a.name} counts ${b.name} a friend`, 20_000);
  await waitFor(async () => (await b.client.moments.friends()).some((f) => f.userId === a.client.userId), `${b.name} counts ${a.name} a friend`, 20_000);
}

async function find(client: ParleyClient, postId: string): Promise<MomentPost | null> {
  return client.moments.get(postId);
}

const photo = (fill: number): { bytes: Uint8Array; mimeType: 'image/jpeg'; width: number; height: number } => ({ bytes: new Uint8Array(2048).fill(fill), mimeType: 'image/jpeg', width: 40, height: 30 });

describe('client: moments', () => {
  it('a post reaches friends only; likes and comments only from friends; replies show without the hidden comment; delete removes everywhere', async () => {
    await using net = await ClientNetwork.start();
    const [a, b, c, d] = [await net.user(), await net.user(), await net.user(), await net.user()];
    await befriend(a, b);
    await befriend(a, c);
    // D added A, but A never added D: not friends.
    await d.client.contacts.add(a.name);

    const events: string[] = [];
    a.client.on('moments', (e) => events.push(`${e.kind}:${e.postId ?? ''}`));
    const post = await a.client.moments.post({ text: 'first light over the harbour https://example.org', location: 'Lisbon', photos: [photo(1), photo(2)] });
    assert.equal(post.sentTo, 2);
    assert.ok(events.includes(`post:${post.id}`), "the author's app is told of the new post");
    assert.equal((await a.client.moments.timeline()).posts[0]?.id, post.id);
    const atB = await waitFor(async () => ((await find(b.client, post.id))?.state === 'ready' ? find(b.client, post.id) : null), 'B has the post');
    assert.equal(atB.text, 'first light over the harbour https://example.org');
    assert.equal(atB.location, 'Lisbon');
    assert.equal(atB.photos.length, 2);
    assert.deepEqual(await b.client.moments.photo(post.id, 1), photo(2).bytes);
    await waitFor(async () => (await find(c.client, post.id))?.state === 'ready', 'C has the post');

    await b.client.moments.like(post.id, true);
    const bc = await b.client.moments.comment(post.id, 'gorgeous!');
    const atA = await waitFor(async () => {
      const p = await find(a.client, post.id);
      return p !== null && p.comments.length === 1 && p.likes.length === 1 ? p : null;
    }, 'A sees B like and comment');
    assert.equal(atA.comments[0]?.text, 'gorgeous!');
    assert.equal((await a.client.moments.unseenCount()) >= 2, true, 'A has notices of the like and the comment');
    const reply = await a.client.moments.comment(post.id, 'thanks B', { replyTo: bc.id });
    await waitFor(async () => (await find(b.client, post.id))?.comments.some((x) => x.id === reply.id && x.replyTo?.author?.userId === b.client.userId), 'B sees the reply to their comment');
    assert.ok((await b.client.moments.notices()).some((n) => n.kind === 'reply'), 'B has a reply notice');
    const atC = await waitFor(async () => {
      const p = await find(c.client, post.id);
      return p?.comments.some((x) => x.id === reply.id) === true ? p : null;
    }, 'C sees A reply');
    assert.deepEqual(
      atC.comments.map((x) => [x.text, x.replyTo?.author ?? null]),
      [['thanks B', null]],
      "C sees A's reply as a reply to a comment C cannot see; B's comment and like never show",
    );
    assert.equal(atC.likes.length, 0);
    // D never got anything.
    assert.equal(await find(d.client, post.id), null);
    assert.equal((await d.client.moments.timeline()).posts.length, 0);

    await a.client.moments.delete(post.id);
    await waitFor(async () => (await find(b.client, post.id)) === null && (await find(c.client, post.id)) === null, 'the post is gone for B and C');
    const invalid = net.errors.filter((e) => e.event.code === 'moment_invalid');
    assert.deepEqual(invalid.map((e) => e.event.error.message), []);
  });

  it('a post to a list reaches only its members; lists sync to own devices; limits refuse before upload; only the author deletes', async () => {
    await using net = await ClientNetwork.start();
    const a = await net.user();
    const phone = await net.device(a);
    const [b, c] = [await net.user(), await net.user()];
    await befriend(a, b);
    await befriend(a, c);
    const list = await a.client.moments.saveList({ name: 'Close friends', members: [b.client.userId as UserId] });
    await waitFor(async () => (await phone.moments.lists()).some((l) => l.name === 'Close friends'), 'the list reached the phone');
    const close = await a.client.moments.post({ text: 'only for close friends', audience: { kind: 'lists', lists: [list.id] } });
    assert.equal(close.sentTo, 1);
    await waitFor(async () => (await find(b.client, close.id))?.state === 'ready', 'B has it');
    await waitFor(async () => (await find(phone, close.id)) !== null, "A's phone has its own post");
    const except = await a.client.moments.post({ text: 'all but close friends', audience: { kind: 'except', lists: [list.id] } });
    await waitFor(async () => (await find(c.client, except.id))?.state === 'ready', 'C has the all-except post');
    assert.equal(await find(c.client, close.id), null, 'C never gets the list post');
    assert.equal(await find(b.client, except.id), null, 'B never gets the all-except post');

    await assert.rejects(a.client.moments.post({ text: 'x', photos: Array.from({ length: 10 }, (_, i) => photo(i)) }), isClientError('too_large'));
    await assert.rejects(a.client.moments.post({ photos: [{ ...photo(0), bytes: new Uint8Array(MAX_MOMENT_PHOTO_BYTES + 1) }] }), isClientError('too_large'));
    await assert.rejects(a.client.moments.post({ text: '   ' }), isClientError('bad_request'));
    await assert.rejects(a.client.moments.post({ text: 'x'.repeat(5_001) }), isClientError('too_large'));
    await assert.rejects(a.client.moments.post({ text: 'x', audience: { kind: 'lists', lists: ['AAAAAAAAAAAAAAAAAAAAAA'] } }), isClientError('not_found'));
    await assert.rejects(b.client.moments.delete(close.id), isClientError('forbidden'));
    await assert.rejects(a.client.moments.saveList({ name: 'bad\u202Ename', members: [] }), isClientError('bad_request'));
  });

  it('a new friend gets the newest posts to all friends; unfriending removes them; a shorter window drops older posts on friends devices', async () => {
    let bobClock = Date.now();
    await using net = await ClientNetwork.start();
    const a = await net.user();
    const b = await net.user(undefined, { now: () => bobClock });
    const early = await a.client.moments.post({ text: `before we met ${randomBytes(4).toString('hex')}` });
    await befriend(a, b);
    await waitFor(async () => (await find(b.client, early.id))?.state === 'ready', 'B got the earlier post when they became friends');

    // Four days on (B's clock), A lets friends see only the last three days: B's device drops the post.
    bobClock += 4 * 24 * 60 * 60 * 1000;
    await a.client.moments.setWindow('3d');
    assert.equal(await a.client.moments.window(), '3d');
    await waitFor(async () => (await find(b.client, early.id)) === null, 'B dropped the post past the window');
    assert.ok((await find(a.client, early.id)) !== null, 'the author keeps it');

    // (B's clock back in step: a post from "four days ago" by B's clock would be past the window too.)
    bobClock -= 4 * 24 * 60 * 60 * 1000;
    const later = await a.client.moments.post({ text: 'after the window' });
    await waitFor(async () => (await find(b.client, later.id))?.state === 'ready', 'B has the new post');
    // A removes B: B's device drops A's posts, and they are friends no more.
    await a.client.contacts.remove(b.client.userId as UserId);
    await waitFor(async () => (await find(b.client, later.id)) === null, "B no longer holds A's post");
    assert.equal((await b.client.moments.friends()).length, 0);
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('refuses with moment_invalid: a delete from someone other than the author, moments in a group; a comment before its post waits for it', async () => {
    await using net = await ClientNetwork.start();
    const [a, b, c] = [await net.user(), await net.user(), await net.user()];
    await befriend(a, b);
    await befriend(a, c);
    await befriend(b, c);
    const post = await a.client.moments.post({ text: 'mine alone to delete' });
    await waitFor(async () => (await find(b.client, post.id))?.state === 'ready', 'B has it');
    // B (a modified client) tells A and C to delete A's post.
    const bMoments = inside(b.client).f.moments;
    await bMoments.sender.send({ type: 'moment_delete', v: 1, id: newContentId(), sentAt: Date.now(), postId: post.id }, [a.client.userId as UserId, c.client.userId as UserId]);
    await waitFor(() => net.errorsOf(a.client).some((e) => e.code === 'moment_invalid'), 'A refused the forged delete');
    await waitFor(() => net.errorsOf(c.client).some((e) => e.code === 'moment_invalid'), 'C refused the forged delete');
    assert.ok((await find(a.client, post.id)) !== null && (await find(c.client, post.id)) !== null, 'the post stays');

    // B claims the id of A's post for a post of its own (to pre-empt it where A's has not arrived): refused, the id is bound to A.
    const cErrors = net.errorsOf(c.client).length;
    const body = { digest: 'ab'.repeat(32) as BlobDigest, key: new Uint8Array(32), nonce: new Uint8Array(12), size: 10 };
    await bMoments.sender.send({ type: 'moment_post', v: 1, id: newContentId(), sentAt: Date.now(), postId: newContentId(), salt: new Uint8Array(16), postedAt: Date.now(), body, window: 'all' }, [c.client.userId as UserId]);
    await waitFor(() => net.errorsOf(c.client).length > cErrors, 'C refused a post id not bound to B');
    assert.match(net.errorsOf(c.client).at(-1)?.error.message ?? '', /not bound/);

    // Moments content in a group of three is refused (only a pair's 1:1 group carries it).
    const group = await b.client.createConversation([a.name, c.name]);
    await waitFor(async () => (await a.client.conversations()).some((x) => x.id === group.id), 'A is in the group');
    const before = net.errorsOf(a.client).length;
    await inside(b.client).outbox.sendPlaintext(group.id, encodeContent({ type: 'moment_delete', v: 1, id: newContentId(), sentAt: Date.now(), postId: post.id }), []);
    await waitFor(() => net.errorsOf(a.client).length > before, 'A refused moments content in a group');
    assert.ok((await find(a.client, post.id)) !== null);
  });
});

describe('client: moments on a device linked later', () => {
  it("gets its user's friendships (it missed the hellos), so friends' posts and comments reach it", async () => {
    await using net = await ClientNetwork.start();
    const [a, b] = [await net.user(), await net.user()];
    await befriend(a, b);
    const aId = a.client.userId as UserId;
    const pairsAtB = (await inside(b.client).f.moments.sender.pairs(aId)).join();
    const phone = await net.device(a);
    await waitFor(async () => (await phone.moments.friends()).length === 1, 'the phone knows B is a friend');
    // (The phone reads what is sent in the pair's group once A's first device has added it there.)
    const bId = b.client.userId as UserId;
    const pairsOf = async (client: ParleyClient) => (await inside(client).f.moments.sender.pairs(bId)).join();
    await waitFor(async () => (await pairsOf(phone)) === (await pairsOf(a.client)) || undefined, 'the phone is in every pair group A has with B');
    const post = await b.client.moments.post({ text: 'hello to all my friends' });
    await waitFor(async () => (await find(phone, post.id))?.state === 'ready', "A's phone has B's post");
    await phone.moments.comment(post.id, 'from the phone');
    await waitFor(async () => (await find(b.client, post.id))?.comments.length === 1, 'B sees the comment from the phone');
    assert.equal((await inside(b.client).f.moments.sender.pairs(aId)).join(), pairsAtB, 'the phone opened no pair group of its own with B');
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });
});

describe('client: moments photos on the device', () => {
  it('keeps photos on arrival within the media setting; a larger one is fetched and kept when viewed', async () => {
    await using net = await ClientNetwork.start();
    const [a, b] = [await net.user(), await net.user()];
    await befriend(a, b);
    await b.client.setMediaSettings({ autoDownloadMaxBytes: 3_000 });
    const big = { bytes: new Uint8Array(5_000).fill(4), mimeType: 'image/jpeg' as const, width: 40, height: 30 };
    const post = await a.client.moments.post({ text: 'one small, one large', photos: [photo(3), big] });
    await waitFor(async () => (await find(b.client, post.id))?.state === 'ready', 'B has the post');
    await waitFor(async () => (await b.client.mediaUsage()).files === 1, 'B kept the small photo');
    assert.equal((await b.client.mediaUsage()).bytes, photo(3).bytes.length, 'and not the large one');
    assert.deepEqual(await b.client.moments.photo(post.id, 1), big.bytes);
    assert.equal((await b.client.mediaUsage()).files, 2, 'viewed: kept');
  });
});

describe('client: moments in the history transfer', () => {
  it('a device linked with history gets own and friends posts with their comments and likes, and their photos', async () => {
    await using net = await ClientNetwork.start();
    const [a, b] = [await net.user(), await net.user()];
    await befriend(a, b);
    const own = await a.client.moments.post({ text: 'my own post', photos: [photo(7)] });
    const theirs = await b.client.moments.post({ text: "B's post" });
    await waitFor(async () => (await find(a.client, theirs.id))?.state === 'ready', 'A has B post');
    await a.client.moments.comment(theirs.id, 'nice one');
    await b.client.moments.like(own.id, true);
    await waitFor(async () => (await find(a.client, own.id))?.likes.length === 1, 'A sees the like');

    const laptop = await net.client();
    const imported = new Promise<void>((resolve) => laptop.on('history', (e) => e.state === 'imported' && resolve()));
    const pending = await laptop.linkDevice(a.name, a.password);
    await a.client.approveLink(pending.uri, { history: 'all' });
    await pending.approved;
    await imported;
    const mine = await waitFor(() => find(laptop, own.id), 'the laptop has the own post');
    assert.equal(mine.text, 'my own post');
    assert.deepEqual(mine.likes.map((l) => l.author.userId), [b.client.userId]);
    assert.deepEqual(await laptop.moments.photo(own.id, 0), photo(7).bytes);
    const other = await waitFor(() => find(laptop, theirs.id), "the laptop has B's post");
    assert.deepEqual(other.comments.map((c) => c.text), ['nice one']);
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });
});

describe('client: moments and push wake-ups', () => {
  it('sends silent what has nothing to show (posts, hellos, comments to other friends); a comment wakes the post author, a reply the answered comment author', async () => {
    await using net = await ClientNetwork.start();
    const sockets = new RecordingSockets();
    const a = await net.user();
    const b = await net.user(undefined, { webSocket: sockets.factory });
    const c = await net.user();
    await befriend(a, b);
    await befriend(b, c);
    await befriend(a, c);
    const post = await a.client.moments.post({ text: 'a post by A' });
    await waitFor(async () => (await find(b.client, post.id))?.state === 'ready', 'B has it');
    const ca = await waitFor(async () => ((await find(c.client, post.id))?.state === 'ready' ? c.client.moments.comment(post.id, 'C was here') : null), 'C comments');
    await waitFor(async () => (await find(b.client, post.id))?.comments.length === 1, "B sees C's comment");
    const pairOf = async (other: string): Promise<string | undefined> => inside(b.client).f.moments.sender.channel(other as UserId);
    const [toA, toC] = [await pairOf(a.client.userId as string), await pairOf(c.client.userId as string)];
    assert.ok(toA !== undefined && toC !== undefined);
    const sends = () => sockets.sent.filter((f) => f.t === 'send').map((f) => splitFrame(f.bytes).header as { group: string; silent?: true });
    const from = sends().length;
    const bPost = await b.client.moments.post({ text: 'a post by B' });
    // post() returns once the references are queued; they go out in the background.
    await waitFor(async () => (await find(a.client, bPost.id)) !== null && (await find(c.client, bPost.id)) !== null, "B's post reached A and C");
    assert.ok(sends().slice(from).length >= 2 && sends().slice(from).every((f) => f.silent === true), "B's post references are all silent");
    const mark = sends().length;
    await b.client.moments.comment(post.id, 'B answers C', { replyTo: ca.id });
    const comment = sends().slice(mark);
    assert.equal(comment.find((f) => f.group === toA)?.silent, undefined, 'to the post author: may wake');
    assert.equal(comment.find((f) => f.group === toC)?.silent, undefined, 'to the answered comment author: may wake');
    const mark2 = sends().length;
    await b.client.moments.like(post.id, true);
    const like = sends().slice(mark2);
    assert.equal(like.find((f) => f.group === toA)?.silent, undefined, 'a like wakes the post author');
    assert.equal(like.find((f) => f.group === toC)?.silent, true, 'and nobody else');
  });
});

const inside = (client: ParleyClient) => client as unknown as { f: Features; outbox: Outbox };
