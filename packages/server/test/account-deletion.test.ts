import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { accountDeletionMessage, sessionChallengeMessage, toBase64Url } from '@parley/protocol';
import { newGroupId, TestNetwork, type TestAccount } from './helpers/test-network.js';

/** A challenge for the account's device and a signature over `message(challenge)` by its key. */
async function signed(a: TestAccount, message: (challenge: string) => Uint8Array): Promise<{ challenge: string; signature: string }> {
  const ch = await a.net.http('POST', '/v1/sessions/challenge', { body: { username: a.username, deviceId: a.deviceId } });
  assert.equal(ch.status, 201);
  const challenge = ch.body.challenge as string;
  return { challenge, signature: toBase64Url(a.key.sign(message(challenge))) };
}

const deletion = (a: TestAccount) => (challenge: string) => accountDeletionMessage(a.userId, a.deviceId, challenge);

/** Every row of every table, as text, that mentions one of `needles`. */
function rowsMentioning(dataDir: string, needles: string[]): string[] {
  const db = new Database(join(dataDir, 'parley.db'), { readonly: true });
  try {
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as Array<{ name: string }>).map((t) => t.name);
    const found: string[] = [];
    for (const t of tables) {
      for (const row of db.prepare(`SELECT * FROM "${t}"`).all() as Array<Record<string, unknown>>) {
        const text = Object.values(row)
          .map((v) => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : String(v)))
          .join('|');
        if (needles.some((n) => text.includes(n))) found.push(`${t}: ${text.slice(0, 120)}`);
      }
    }
    return found;
  } finally {
    db.close();
  }
}

describe('account deletion', () => {
  it('refuses a wrong password, a sign-in signature, a replayed challenge or another device’s key, with invalid_credentials, and deletes nothing', async () => {
    await using net = await TestNetwork.start();
    const alice = await net.register('alice');
    const bob = await net.register('bob');
    const attempts = [
      { password: 'wrong password', ...(await signed(alice, deletion(alice))) },
      { password: alice.password, ...(await signed(alice, (c) => sessionChallengeMessage(alice.deviceId, c))) },
      { password: alice.password, ...(await signed(alice, (c) => bob.key.sign(accountDeletionMessage(alice.userId, alice.deviceId, c)))) },
    ];
    // A challenge issued for another device is not this device's.
    const bobs = await signed(bob, (c) => alice.key.sign(accountDeletionMessage(alice.userId, alice.deviceId, c)));
    attempts.push({ password: alice.password, challenge: bobs.challenge, signature: toBase64Url(alice.key.sign(accountDeletionMessage(alice.userId, alice.deviceId, bobs.challenge))) });
    for (const body of attempts) {
      const res = await alice.post('/v1/account/deletion', body);
      assert.equal(res.status, 401, JSON.stringify(res.body));
      assert.equal(res.body.code, 'invalid_credentials');
    }
    // A good request whose challenge was already used: refused too.
    const once = await signed(alice, deletion(alice));
    assert.equal((await alice.post('/v1/account/deletion', { password: 'wrong password', ...once })).status, 401);
    assert.equal((await alice.post('/v1/account/deletion', { password: alice.password, ...once })).status, 401, 'the challenge was consumed');
    // Nothing deleted: alice still signs in, lists her devices, and her name is taken.
    assert.equal((await alice.get('/v1/devices')).status, 200);
    await alice.signIn();
    assert.equal((await net.http('POST', '/v1/accounts', { body: { username: 'alice', password: 'another long password', device: { name: 'x', signatureKey: toBase64Url(bob.key.publicKey) } } })).body.code, 'username_taken');
    // A session of another user cannot delete alice (bob's token deletes bob, and only with bob's key).
    assert.equal((await bob.post('/v1/account/deletion', { password: alice.password, ...(await signed(alice, deletion(alice))) })).status, 401);
  });

  it('revokes every device, tells contacts, leaves no trace of the user after the hold, and holds the name back until then', async () => {
    let now = Math.floor(Date.now() / 1000);
    await using net = await TestNetwork.start({ config: { usernameHoldSeconds: 30 * 86400 } });
    net.ctx.clock = { now: () => now };
    const alice = await net.register('alice');
    const phone = await alice.newDevice('phone');
    const bob = await net.register('bob');
    assert.equal((await alice.post('/v1/key-packages', { keyPackages: [alice.kp(), alice.kp()], lastResort: alice.kp({ lastResort: true }) })).status, 200);
    const aSock = await alice.connect();
    const phoneSock = await phone.connect();
    const bSock = await bob.connect();
    const g = newGroupId();
    assert.equal((await alice.post('/v1/groups', { groupId: g.id })).status, 201);
    const commit = await aSock.commit(g.id, 0, [alice.deviceId, phone.deviceId, bob.deviceId], [phone.deviceId, bob.deviceId]);
    assert.equal(commit.t, 'ok', JSON.stringify(commit));
    const sent = await aSock.send(g.id, 1, Uint8Array.of(1, 2, 3));
    assert.equal(sent.t, 'ok', JSON.stringify(sent));
    const beforeNotice = bSock.received.length;

    const res = await alice.post('/v1/account/deletion', { password: alice.password, ...(await signed(alice, deletion(alice))) });
    assert.equal(res.status, 204, JSON.stringify(res.body));

    // Every device is out at once, on every connection.
    assert.equal((await aSock.waitClosed()).code, 4010);
    assert.equal((await phoneSock.waitClosed()).code, 4010);
    assert.equal((await alice.get('/v1/devices')).status, 401);
    await assert.rejects(alice.signIn(), /invalid_credentials/);
    // Bob is told: his client looks alice's devices up and removes them from the group.
    await bSock.waitFor((r) => r.frame.t === 'devices_changed' && (r.frame as { userId?: string }).userId === alice.userId, 5000, beforeNotice);
    const dir = await bob.get(`/v1/users/by-id/${alice.userId}/devices`);
    assert.equal(dir.status, 200, JSON.stringify(dir.body));
    const devices = dir.body.devices as Array<{ id: string; revokedAt: number | null }>;
    assert.equal(devices.length, 2);
    assert.ok(devices.every((d) => d.revokedAt !== null), 'listed only as revoked, so contacts remove them');
    assert.notEqual(dir.body.username, 'alice', 'the name is gone');
    assert.equal((await bob.get('/v1/users/alice/devices')).status, 404);
    // Bob's group still works: a commit removing alice's devices is accepted.
    const removal = await bSock.commit(g.id, 1, [bob.deviceId]);
    assert.equal(removal.t, 'ok', JSON.stringify(removal));

    // The name is held back during the hold (look-alikes too), nothing of it kept in clear.
    const newKey = toBase64Url(bob.key.publicKey);
    const again = (username: string) => net.http('POST', '/v1/accounts', { body: { username, password: 'another long password', device: { name: 'x', signatureKey: newKey } } });
    assert.equal((await again('alice')).body.code, 'username_taken');
    assert.equal((await again('ALICE')).body.code, 'username_taken');
    assert.deepEqual(rowsMentioning(net.dataDir, ['alice']), [], 'the name is not stored in clear');
    // Until the hold ends, only the user id and the revoked devices' ids and keys remain.
    const kept = rowsMentioning(net.dataDir, [alice.userId]);
    assert.ok(kept.every((r) => r.startsWith('users:') || r.startsWith('devices:')), kept.join('\n'));

    now += 30 * 86400 - 60;
    await net.ctx.storage.sweep(now);
    assert.equal((await again('alice')).body.code, 'username_taken', 'a minute before the hold ends');
    now += 120;
    const swept = await net.ctx.storage.sweep(now);
    assert.equal(swept.accounts, 1);
    assert.deepEqual(rowsMentioning(net.dataDir, [alice.userId, alice.deviceId, phone.deviceId]), [], 'no table mentions the user or their devices');
    const reg = await again('alice');
    assert.equal(reg.status, 201, JSON.stringify(reg.body));
    assert.notEqual(reg.body.userId, alice.userId);
  });
});
