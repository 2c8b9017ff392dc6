import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { ClientNetwork, texts, waitFor } from './helpers/network.js';

describe('client: content', () => {
  it('round-trips an attachment: encrypted upload, key in the message, verified download', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const bob = await net.user();
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'join');
    const bytes = new Uint8Array(randomBytes(150_000));
    const sent = await alice.client.send(conv.id, { attachment: bytes, mimeType: 'application/pdf', fileName: 'report.pdf', caption: 'the report' });
    assert.equal(sent.content.type, 'attachment');
    const [received] = await waitFor(async () => {
      const m = await bob.client.messages(conv.id);
      return m.length === 1 ? m : undefined;
    }, 'bob receives the attachment message');
    assert.ok(received && received.content.type === 'attachment');
    assert.equal(received.content.fileName, 'report.pdf');
    assert.equal(received.content.mimeType, 'application/pdf');
    assert.equal(received.content.caption, 'the report');
    assert.equal(received.content.blob.size, bytes.length);
    const downloaded = await bob.client.downloadAttachment(received);
    assert.deepEqual(downloaded, bytes);

    // The server holds ciphertext only: what it serves (to any signed-in device) is not the file.
    const outsider = await net.server.register();
    const res = await fetch(`${net.url}/v1/blobs/${received.content.blob.digest}`, { headers: { authorization: `Bearer ${outsider.token}` } });
    assert.equal(res.status, 200);
    const stored = new Uint8Array(await res.arrayBuffer());
    assert.equal(stored.length, bytes.length + 16, 'AES-GCM ciphertext and tag');
    assert.notDeepEqual(stored.subarray(0, 64), bytes.subarray(0, 64));
    // A wrong key (or a swapped blob) is refused, not returned.
    const tampered = { ...received.content, blob: { ...received.content.blob, key: new Uint8Array(32) } };
    await assert.rejects(bob.client.downloadAttachment(tampered), /failed authentication/);
    const swapped = { ...received.content, blob: { ...received.content.blob, digest: 'a'.repeat(64) as typeof received.content.blob.digest } };
    await assert.rejects(bob.client.downloadAttachment(swapped), (err: Error) => err.name === 'ClientError' || err.name === 'AttachmentError');
    assert.deepEqual(net.errors.map((e) => e.event.code), []);
  });

  it('rejects malformed decrypted content with a typed error event and keeps the conversation going', async () => {
    await using net = await ClientNetwork.start();
    const alice = await net.user();
    const bob = await net.user();
    const conv = await alice.client.createConversation([bob.name]);
    await waitFor(async () => (await bob.client.conversations()).length === 1, 'join');
    const bad = [
      new Uint8Array([0xff, 0xfe, 0x00, 0x01]), // not UTF-8
      new TextEncoder().encode('{"v":1,"type":"text"}'), // missing fields
      new TextEncoder().encode('{"v":1,"type":"reaction","id":"AAAAAAAAAAAAAAAAAAAAAA","sentAt":1}'), // a reaction without target or emoji
      new TextEncoder().encode('{"v":1,"type":"poll","id":"AAAAAAAAAAAAAAAAAAAAAA","sentAt":1}'), // unknown type
      new TextEncoder().encode('{"v":9,"type":"text","text":"x"}'), // future version
      new TextEncoder().encode('{"v":1,"type":"x-parley-roster","members":"nope"}'), // broken roster
      new TextEncoder().encode('[1,2,3]'),
    ];
    for (const b of bad) await alice.client.testing.sendPlaintext(conv.id, b);
    await alice.client.send(conv.id, 'still here');
    await waitFor(async () => (await texts(bob.client, conv.id)).includes('still here'), 'good message after bad ones');
    const errors = net.errorsOf(bob.client);
    assert.equal(errors.length, bad.length);
    assert.ok(errors.every((e) => e.code === 'malformed_content' && e.conversationId === conv.id && typeof e.seq === 'number'));
    assert.deepEqual(
      errors.map((e) => (e.error as { code?: string }).code),
      ['malformed', 'invalid', 'invalid', 'unsupported_type', 'unsupported_version', 'bad_request', 'malformed'],
    );
    assert.deepEqual(await texts(bob.client, conv.id), ['still here'], 'nothing malformed was stored');
    await bob.client.send(conv.id, 'and me');
    await waitFor(async () => (await texts(alice.client, conv.id)).includes('and me'), 'the conversation continues both ways');
  });
});
