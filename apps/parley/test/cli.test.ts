import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { after, describe, it } from 'node:test';
import { toBase64Url, type UserId } from '@parley/protocol';
import { accounts, SqliteStorage } from '@parley/server';

const BIN = new URL('../bin/parley.mjs', import.meta.url).pathname;
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'parley-cli-'));
  dirs.push(d);
  return d;
}

function admin(dir: string, args: string[], input?: string) {
  const env: Record<string, string> = { ...(process.env as Record<string, string>), PARLEY_DATA_DIR: dir };
  delete env['DATABASE_URL'];
  return spawnSync(process.execPath, [BIN, 'admin', ...args], { env, input, encoding: 'utf8', timeout: 60_000 });
}

/**
 * One request on a fresh connection. The admin commands run with spawnSync, which blocks this
 * process's event loop: a kept-alive connection the server closed meanwhile would be reused.
 */
function call(url: string, method: string, path: string, options: { json?: unknown; token?: string } = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (options.json !== undefined) headers['content-type'] = 'application/json';
    if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
    const req = request(`${url}${path}`, { method, headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
    });
    req.on('error', reject);
    req.end(options.json === undefined ? undefined : JSON.stringify(options.json));
  });
}

function freePort(): number {
  return 20000 + Math.floor(Math.random() * 20000);
}

async function waitHealthy(url: string, child: { exitCode: number | null }): Promise<Record<string, unknown>> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error('server exited early');
    try {
      const r = await fetch(`${url}/health`);
      if (r.ok) return (await r.json()) as Record<string, unknown>;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('server did not become healthy');
}

describe('the parley command', () => {
  it('admin creates a user, lists and revokes devices, resets a password, with clear errors', async () => {
    const dir = dataDir();
    const created = admin(dir, ['create-user', 'Erin'], 'a long enough password\n');
    assert.equal(created.status, 0, created.stderr);
    assert.match(created.stdout, /created user erin/);
    assert.doesNotMatch(created.stdout + created.stderr, /long enough password/);
    assert.equal(admin(dir, ['create-user', 'erin'], 'another long password\n').status, 2);
    assert.equal(admin(dir, ['create-user', 'x y'], 'another long password\n').status, 2);
    assert.match(admin(dir, ['list-devices', 'erin']).stdout, /no devices/);
    assert.equal(admin(dir, ['revoke-device', 'AAAAAAAAAAAAAAAAAAAAAA']).status, 2);
    assert.equal(admin(dir, ['frobnicate', 'x']).status, 2);

    // the created user's first device starts over (nothing to revoke) on a running server, then the operator revokes it
    const port = freePort();
    const child = spawn(process.execPath, [BIN, 'serve'], {
      env: { ...process.env, PARLEY_DATA_DIR: dir, PORT: String(port), PARLEY_LOG_LEVEL: 'info', DATABASE_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const url = `http://127.0.0.1:${port}`;
      await waitHealthy(url, child);
      const first = await call(url, 'POST', '/v1/identity-resets', {
        json: { username: 'erin', password: 'a long enough password', device: { name: 'cli test', signatureKey: toBase64Url(randomBytes(32)) } },
      });
      assert.equal(first.status, 201);
      const { deviceId, token } = first.body as { deviceId: string; token: string };
      const listed = admin(dir, ['list-devices', 'erin']);
      assert.match(listed.stdout, new RegExp(`${deviceId}\\tactive\\t\\d{4}-\\d{2}-\\d{2}\\t-$`, 'm'), 'no name uploaded yet: a dash, never ciphertext');

      // reset-password: the new password works, the old one no longer does, and every session ended
      assert.equal(admin(dir, ['reset-password', 'nobody'], 'a brand new password\n').status, 2);
      assert.equal(admin(dir, ['reset-password', 'erin'], 'short\n').status, 2);
      const reset = admin(dir, ['reset-password', 'erin'], 'a brand new password\n');
      assert.equal(reset.status, 0, reset.stderr);
      assert.match(reset.stdout, /password of erin reset/);
      assert.doesNotMatch(reset.stdout + reset.stderr, /brand new/);
      assert.equal((await call(url, 'GET', '/v1/devices', { token })).status, 401, 'sessions ended');
      const link = (password: string) => call(url, 'POST', '/v1/device-links', { json: { username: 'erin', password, device: { name: 'pending', signatureKey: toBase64Url(randomBytes(32)) } } });
      assert.equal((await link('a long enough password')).status, 401, 'the old password is gone');
      const pending = await link('a brand new password');
      assert.equal(pending.status, 201);
      const pendingId = pending.body['deviceId'] as string;
      assert.match(admin(dir, ['list-devices', 'erin']).stdout, new RegExp(`${pendingId}\\tpending`));

      const revoked = admin(dir, ['revoke-device', deviceId]);
      assert.equal(revoked.status, 0, revoked.stderr);
      assert.match(admin(dir, ['list-devices', 'erin']).stdout, new RegExp(`${deviceId}\\trevoked`));
    } finally {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
    }
  });

  it('admin create-user refuses a deleted account’s name during its cooling-off period', async () => {
    const dir = dataDir();
    const created = admin(dir, ['create-user', 'gwen'], 'a long enough password\n');
    assert.equal(created.status, 0, created.stderr);
    const id = /\(([A-Za-z0-9_-]+)\)/.exec(created.stdout)?.[1] as UserId;
    const storage = new SqliteStorage({ path: join(dir, 'parley.db') });
    try {
      const now = Math.floor(Date.now() / 1000);
      await storage.deleteAccount(id, now, { nameHash: accounts.heldNameHash('gwen'), until: now + 86400 });
    } finally {
      await storage.close();
    }
    const again = admin(dir, ['create-user', 'gwen'], 'another long password\n');
    assert.equal(again.status, 2);
    assert.match(again.stderr, /deleted account/);
  });

  it('serves on the embedded database, logs nothing secret, and shuts down cleanly on SIGTERM', async () => {
    const dir = dataDir();
    const port = freePort();
    const child = spawn(process.execPath, [BIN], {
      env: { ...process.env, PARLEY_DATA_DIR: dir, PORT: String(port), PARLEY_LOG_LEVEL: 'debug', DATABASE_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let logs = '';
    child.stdout.on('data', (d: Buffer) => (logs += d.toString()));
    child.stderr.on('data', (d: Buffer) => (logs += d.toString()));
    const url = `http://127.0.0.1:${port}`;
    const health = await waitHealthy(url, child);
    assert.equal(health['status'], 'ok');
    assert.deepEqual(health['storage'], { kind: 'sqlite', ok: true });
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const reg = await fetch(`${url}/v1/accounts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'frank', password, device: { name: 'd', signatureKey: toBase64Url(randomBytes(32)) } }),
    });
    assert.equal(reg.status, 201);
    const { token } = (await reg.json()) as { token: string };
    await fetch(`${url}/v1/devices`, { headers: { authorization: `Bearer ${token}` } });
    await fetch(`${url}/v1/device-links`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'frank', password: 'wrong-password', device: { name: 'd', signatureKey: toBase64Url(randomBytes(32)) } }) });
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    assert.equal(code, 0);
    assert.match(logs, /"event":"server.stopped"/);
    for (const secret of [password, token, 'wrong-password', '127.0.0.1']) assert.ok(!logs.includes(secret), `logs leak ${secret.slice(0, 6)}…`);
    // every log line is structured JSON
    for (const line of logs.trim().split('\n')) JSON.parse(line);
    // the write-ahead log was checkpointed into the database on shutdown, and the user is there
    const files = readdirSync(dir);
    assert.ok(files.includes('parley.db'));
    const db = readFileSync(join(dir, 'parley.db'));
    assert.ok(db.includes(Buffer.from('frank')));
  });
});
