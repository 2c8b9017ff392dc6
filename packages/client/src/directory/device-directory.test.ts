import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toBase64Url } from '@parley/protocol';
import type { DeviceId, UserDevicesResponse, UserId } from '@parley/protocol';
import { ClientError } from '../errors.js';
import { activeDevices, DeviceDirectoryCache } from './device-directory.js';
import type { DirectorySource } from './device-directory.js';

const id = () => toBase64Url(crypto.getRandomValues(new Uint8Array(16)));
const key = () => crypto.getRandomValues(new Uint8Array(32));

/** The server's directory, in memory, counting requests. */
class FakeDirectory implements DirectorySource {
  readonly users = new Map<UserId, UserDevicesResponse>();
  requests = 0;
  failWith: Error | undefined;

  add(username: string): { userId: UserId; device(revokedAt?: number | null): { id: DeviceId; key: Uint8Array } } {
    const userId = id() as UserId;
    const entry: UserDevicesResponse = { userId, username, devices: [] };
    this.users.set(userId, entry);
    return {
      userId,
      device: (revokedAt = null) => {
        const d = { id: id() as DeviceId, key: key() };
        entry.devices.push({ id: d.id, signatureKey: toBase64Url(d.key), revokedAt, approvedBy: null, approval: null });
        return d;
      },
    };
  }

  private answer(found: UserDevicesResponse | undefined): Promise<UserDevicesResponse> {
    this.requests++;
    if (this.failWith !== undefined) return Promise.reject(this.failWith);
    if (found === undefined) return Promise.reject(new ClientError('not_found', 'no such user', { server: true }));
    return Promise.resolve(structuredClone(found));
  }

  userDevices(username: string): Promise<UserDevicesResponse> {
    return this.answer([...this.users.values()].find((u) => u.username === username));
  }

  userDevicesById(userId: UserId): Promise<UserDevicesResponse> {
    return this.answer(this.users.get(userId));
  }
}

describe('DeviceDirectoryCache (fail closed)', () => {
  it('vouches only for a listed (user, device, key), active or revoked; never for a stranger, another key, another user or an unknown user', async () => {
    const server = new FakeDirectory();
    const carol = server.add('carol');
    const phone = carol.device();
    const old = carol.device(1_700_000_000);
    const dave = server.add('dave');
    const davePhone = dave.device();
    const directory = new DeviceDirectoryCache(server, 0);

    assert.equal(await directory.check(carol.userId, phone.id, phone.key), true, 'a stranger is looked up by id');
    assert.equal(await directory.check(carol.userId, old.id, old.key), true, 'revoked devices still verify history');
    assert.equal(await directory.check(carol.userId, phone.id, key()), false, 'the attacker\'s key under carol\'s device id');
    assert.equal(await directory.check(carol.userId, davePhone.id, davePhone.key), false, 'dave\'s device named as carol\'s');
    assert.equal(await directory.check(dave.userId, phone.id, phone.key), false, 'carol\'s device named as dave\'s');
    assert.equal(await directory.check(id() as UserId, phone.id, phone.key), false, 'a user the server does not know');
    assert.equal(directory.usernameOf(carol.userId), 'carol', 'the name comes with the by-id answer');
    assert.deepEqual(activeDevices(await directory.lookupUserById(carol.userId)).map((d) => d.id), [phone.id], 'adds use active devices only');
  });

  it('serves hits from the cache and refetches on a miss, so a device listed since is found', async () => {
    const server = new FakeDirectory();
    const carol = server.add('carol');
    const phone = carol.device();
    const directory = new DeviceDirectoryCache(server, 0);
    assert.equal(await directory.check(carol.userId, phone.id, phone.key), true);
    assert.equal(await directory.check(carol.userId, phone.id, phone.key), true);
    assert.equal(server.requests, 1, 'a hit needs no request');
    const laptop = carol.device();
    assert.equal(await directory.check(carol.userId, laptop.id, laptop.key), true, 'a miss refetches');
    assert.equal(server.requests, 2);
    // Concurrent misses for one user share one request.
    await Promise.all([directory.check(carol.userId, id() as DeviceId, key()), directory.check(carol.userId, id() as DeviceId, key())]);
    assert.equal(server.requests, 3);
  });

  it('throws when it cannot ask (never reads "could not ask" as yes), and refuses an answer about another user', async () => {
    const server = new FakeDirectory();
    const carol = server.add('carol');
    const phone = carol.device();
    const directory = new DeviceDirectoryCache(server, 0);
    server.failWith = new ClientError('network', 'offline');
    await assert.rejects(directory.vouches(carol.userId, phone.id, phone.key), (err: unknown) => err instanceof ClientError && err.code === 'network');
    server.failWith = undefined;
    const dave = server.add('dave');
    const davePhone = dave.device();
    // A server answering the by-id route for someone else.
    const lying: DirectorySource = { userDevices: (n) => server.userDevices(n), userDevicesById: () => server.userDevicesById(dave.userId) };
    const fooled = new DeviceDirectoryCache(lying, 0);
    await assert.rejects(fooled.vouches(carol.userId, davePhone.id, davePhone.key), (err: unknown) => err instanceof ClientError && err.code === 'bad_response');
    await assert.rejects(directory.lookupUser('nobody'), (err: unknown) => err instanceof ClientError && err.code === 'unknown_user');
  });
});
