import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { toBase64Url } from '@parley/protocol';

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
  it('admin creates a user, lists and revokes devices, with clear errors', async () => {
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

    // the created user signs in (creating a device) on a running server, then the operator revokes it
    const port = freePort();
    const child = spawn(process.execPath, [BIN, 'serve'], {
      env: { ...process.env, PARLEY_DATA_DIR: dir, PORT: String(port), PARLEY_LOG_LEVEL: 'info', DATABASE_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const url = `http://127.0.0.1:${port}`;
      await waitHealthy(url, child);
      const login = await fetch(`${url}/v1/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'erin', password: 'a long enough password', device: { name: 'cli test', signatureKey: toBase64Url(randomBytes(32)) } }),
      });
      assert.equal(login.status, 201);
      const { deviceId } = (await login.json()) as { deviceId: string };
      const listed = admin(dir, ['list-devices', 'erin']);
      assert.match(listed.stdout, new RegExp(`${deviceId}\\tactive`));
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
    await fetch(`${url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'frank', password: 'wrong-password', device: { name: 'd', signatureKey: toBase64Url(randomBytes(32)) } }) });
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
