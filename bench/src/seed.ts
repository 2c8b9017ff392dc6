import { randomBytes } from 'node:crypto';
import { encodePrivateMessageFraming, toBase64Url, type DeviceId, type GroupId, type UserId } from '@parley/protocol';
import { createAppContext, defaultConfig, newId, newToken, tokenHash, type Storage } from '@parley/server';

/**
 * Creates accounts, devices, sessions and groups directly in storage before
 * the server starts. Registering thousands of devices over HTTP would mostly
 * measure argon2, which is deliberately slow.
 */
export interface SeedDevice {
  userId: UserId;
  deviceId: DeviceId;
  token: string;
}

export interface SeedGroup {
  id: GroupId;
  bytes: Uint8Array;
  devices: SeedDevice[];
}

export async function openStorage(dataDir: string, databaseUrl: string | undefined): Promise<Storage> {
  const ctx = await createAppContext({ ...defaultConfig(), dataDir, databaseUrl, logLevel: 'silent' });
  await ctx.storage.migrate();
  return ctx.storage;
}

export async function seedDevices(storage: Storage, count: number): Promise<SeedDevice[]> {
  const out: SeedDevice[] = [];
  const far = Math.floor(Date.now() / 1000) + 86400;
  const batch: Array<Promise<void>> = [];
  for (let i = 0; i < count; i++) {
    const userId = newId() as UserId;
    const deviceId = newId() as DeviceId;
    const token = newToken();
    const name = `bench${i}x${randomBytes(3).toString('hex')}`;
    batch.push(
      storage.createAccount(
        { id: userId, username: name, skeleton: name, passwordHash: 'seeded', createdDay: '2026-01-01' },
        { id: deviceId, signatureKey: randomBytes(32) },
        { tokenHash: tokenHash(token), expiresAt: far },
      ),
    );
    out.push({ userId, deviceId, token });
    if (batch.length >= 200) await Promise.all(batch.splice(0));
  }
  await Promise.all(batch);
  return out;
}

/**
 * A group at epoch 1 containing `devices`; the seeding commit and its Welcome
 * (stored once, as every device enters a group only with one) are
 * acknowledged by everyone and trimmed away.
 */
export async function seedGroup(storage: Storage, devices: SeedDevice[]): Promise<SeedGroup> {
  const bytes = randomBytes(16);
  const id = toBase64Url(bytes) as GroupId;
  const [first] = devices;
  if (!first) throw new Error('empty group');
  await storage.createGroup(id, first.deviceId);
  if (devices.length > 1) {
    const r = await storage.appendCommit({
      groupId: id,
      senderDevice: first.deviceId,
      epoch: 0,
      commit: encodePrivateMessageFraming(bytes, 0n, 'commit', randomBytes(200)),
      devices: devices.map((d) => d.deviceId),
      welcome: { to: devices.slice(1).map((d) => d.deviceId), data: randomBytes(200) },
      expiresAt: Math.floor(Date.now() / 1000) + 86400,
    });
    await Promise.all(devices.map((d) => storage.ack(d.deviceId, id, r.seq)));
    await storage.trim([id]);
  }
  return { id, bytes, devices };
}
