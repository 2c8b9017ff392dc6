import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import type { BlobDigest, GroupId } from '@parley/protocol';
import { BackupError, defaultConfig, FsBlobStore, parseBackupManifest, SqliteStorage, SQLITE_SCHEMA_VERSION, type BackupErrorCode, type ServerConfig } from '@parley/server';
import { freePort, ServerProcess } from '../../../packages/server/test/helpers/processes.js';
import { groupAt, registerAt } from '../../../packages/server/test/helpers/remote.js';
import { mlsMessage, TestSocket } from '../../../packages/server/test/helpers/test-network.js';
import { SQLITE_MIGRATIONS } from '../../../packages/server/src/storage/sqlite/migrations.js';
import { backup, restore } from '../src/backup.js';

const BIN = new URL('../bin/parley.mjs', import.meta.url).pathname;
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(prefix = 'parley-backup-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** `parley admin …` as a child process, without blocking this process (the load goes on meanwhile). */
function admin(dataDir: string, args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: Record<string, string> = { ...(process.env as Record<string, string>), PARLEY_DATA_DIR: dataDir, DATABASE_URL: '', ...extraEnv };
  const child = spawn(process.execPath, [BIN, 'admin', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) => {
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const sha256 = (b: Uint8Array): BlobDigest => createHash('sha256').update(b).digest('hex') as BlobDigest;

async function upload(url: string, token: string, bytes: Uint8Array): Promise<BlobDigest> {
  const digest = sha256(bytes);
  const res = await fetch(`${url}/v1/blobs/${digest}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' }, body: bytes });
  assert.equal(res.status, 201, await res.text());
  return digest;
}

/**
 * Streams application messages into a group with up to `window` sends in
 * flight, at most `max` in all, until stopped. `acked` is every seq the server
 * acknowledged (ok), in the order the acknowledgements arrived.
 */
function load(socket: TestSocket, group: GroupId, max: number, window = 8) {
  const acked: number[] = [];
  let sent = 0;
  let inflight = 0;
  let stopped = false;
  let settled: (() => void) | undefined;
  const pump = () => {
    while (!stopped && !socket.closed && inflight < window && sent < max) {
      inflight++;
      sent++;
      socket.sendFrame({ t: 'send', rid: sent, group }, [mlsMessage(group, 1, 'application', randomBytes(200))]);
    }
    if (inflight === 0) settled?.();
  };
  socket.ws.on('message', () => {
    for (const r of socket.received.splice(0)) {
      if (r.frame.t === 'ok' && r.frame.seq !== undefined) acked.push(r.frame.seq);
      if (r.frame.t === 'ok' || r.frame.t === 'error') inflight--;
    }
    pump();
  });
  pump();
  return {
    acked,
    /** Stops sending and waits (bounded) for the answers to what is in flight. */
    stop: async () => {
      stopped = true;
      if (inflight === 0 || socket.closed) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([new Promise<void>((r) => (settled = r)), new Promise((r) => (timer = setTimeout(r, 10_000)))]);
      clearTimeout(timer);
    },
  };
}

/** The distinct application seqs a device was served in a group. */
function servedSeqs(socket: TestSocket, group: GroupId): Set<number> {
  return new Set(socket.messages(group).filter((m) => m.kind === 'application').map((m) => m.seq));
}

describe('parley admin backup and restore', () => {
  it('restores a backup taken under load: every message acknowledged before it began is served, and every blob uploaded before it', async (t) => {
    const dir1 = tempDir();
    const dir2 = join(tempDir(), 'restored'); // restore creates the data directory
    const backupDir = join(tempDir(), 'parley-backup');
    const env = { DATABASE_URL: '', PARLEY_RATE_LIMITS: 'off' };
    const first = new ServerProcess(await freePort(), { ...env, PARLEY_DATA_DIR: dir1 });
    const second = new ServerProcess(await freePort(), { ...env, PARLEY_DATA_DIR: dir2 });
    const sockets: TestSocket[] = [];
    try {
      await first.start();
      const [alice, bob, carol, dave] = await Promise.all([registerAt(first.url), registerAt(first.url), registerAt(first.url), registerAt(first.url)]);
      assert.ok(alice && bob && carol && dave);
      // bob and dave stay offline until after the restore, so everything sent to them stays queued
      const g1 = await groupAt(first.url, alice, [bob.deviceId]);
      const g2 = await groupAt(first.url, carol, [bob.deviceId, dave.deviceId]);

      // blobs before the backup: two referenced by a queued message, one not referenced at all (still in its grace period)
      const blobsBefore = new Map<BlobDigest, Uint8Array>();
      for (const size of [1, 40_000, 300_000]) {
        const bytes = randomBytes(size);
        blobsBefore.set(await upload(first.url, alice.token, bytes), bytes);
      }
      const a = await TestSocket.open(first.wsUrl, alice.token);
      const c = await TestSocket.open(first.wsUrl, carol.token);
      sockets.push(a, c);
      const withBlobs = await a.send(g1, 1, undefined, [...blobsBefore.keys()].slice(0, 2));
      assert.equal(withBlobs.t, 'ok');

      // load on both groups, with blob uploads alongside, for a while before the backup, during it, and a little after
      const loadA = load(a, g1, 25_000);
      const loadC = load(c, g2, 25_000);
      let uploading = true;
      const uploads = (async () => {
        let n = 0;
        while (uploading && n < 200) {
          await upload(first.url, carol.token, randomBytes(2000 + n++));
          await new Promise((r) => setTimeout(r, 20));
        }
        return n;
      })();
      // a few hundred acknowledged in each group (bounded wait: fsync per commit on a slow disk is slow)
      const deadline = Date.now() + 20_000;
      while ((loadA.acked.length < 200 || loadC.acked.length < 200) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));

      // what the server acknowledged before the backup began: all of it must survive
      const beforeA = [...loadA.acked, ...(withBlobs.t === 'ok' && withBlobs.seq !== undefined ? [withBlobs.seq] : [])];
      const beforeC = [...loadC.acked];
      const started = Date.now();
      const made = await admin(dir1, ['backup', backupDir]);
      const backupMs = Date.now() - started;
      const duringA = loadA.acked.length + 1 - beforeA.length;
      const duringC = loadC.acked.length - beforeC.length;
      assert.equal(made.code, 0, made.stderr);
      assert.match(made.stdout, /backup written to .*parley-backup/);

      // a restore is refused while a server has the database open, and changes nothing
      const refused = await admin(dir1, ['restore', '--force', backupDir]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /open in another process: stop the Parley server/);
      assert.equal((await fetch(`${first.url}/health`)).status, 200);

      await new Promise((r) => setTimeout(r, 200));
      uploading = false;
      await Promise.all([loadA.stop(), loadC.stop()]);
      const uploaded = await uploads;
      a.close();
      c.close();
      assert.ok(beforeA.length >= 200 && beforeC.length >= 200, `load before the backup: ${beforeA.length} + ${beforeC.length}`);
      assert.ok(duringA + duringC > 0, 'the server kept acknowledging messages while the backup ran');
      t.diagnostic(`acknowledged before the backup ${beforeA.length + beforeC.length}, during it (${backupMs} ms) ${duringA + duringC}, blobs uploaded under load ${uploaded}`);

      // the backup: owner-only, a manifest that parses, a database and the blobs
      assert.equal(statSync(backupDir).mode & 0o777, 0o700);
      for (const name of readdirSync(backupDir)) {
        const s = statSync(join(backupDir, name));
        assert.equal(s.mode & 0o777, s.isDirectory() ? 0o700 : 0o600, name);
      }
      const manifest = parseBackupManifest(readFileSync(join(backupDir, 'backup.json'), 'utf8'), 'backup.json');
      assert.equal(manifest.schemaVersion, SQLITE_SCHEMA_VERSION);
      assert.ok(manifest.blobs.count >= blobsBefore.size);
      assert.deepEqual(manifest.blobs.missing, []);
      assert.equal(manifest.vapidKeys, true);
      assert.deepEqual(readdirSync(join(backupDir, '..')), ['parley-backup'], 'no temporary directory left next to it');

      // stop the server (SIGTERM to its pid), restore into a fresh data directory, serve from it
      await first.stop();
      const restored = await admin(dir2, ['restore', backupDir]);
      assert.equal(restored.code, 0, restored.stderr);
      assert.match(restored.stdout, /restored into/);
      assert.deepEqual(readdirSync(dir2).sort(), ['blobs', 'parley.db', 'vapid.json'], 'the server’s Web Push keys came along; nothing staged is left behind');
      assert.equal(readFileSync(join(dir2, 'vapid.json'), 'utf8'), readFileSync(join(dir1, 'vapid.json'), 'utf8'));
      await second.start();

      const b = await TestSocket.open(second.wsUrl, bob.token);
      const d = await TestSocket.open(second.wsUrl, dave.token);
      sockets.push(b, d);
      await Promise.all([b.waitFor((r) => r.frame.t === 'synced', 60_000), d.waitFor((r) => r.frame.t === 'synced', 60_000)]);
      const served = { bobG1: servedSeqs(b, g1), bobG2: servedSeqs(b, g2), daveG2: servedSeqs(d, g2) };
      const lost = {
        bobG1: beforeA.filter((s) => !served.bobG1.has(s)),
        bobG2: beforeC.filter((s) => !served.bobG2.has(s)),
        daveG2: beforeC.filter((s) => !served.daveG2.has(s)),
      };
      assert.deepEqual(lost, { bobG1: [], bobG2: [], daveG2: [] }, 'acknowledged before the backup but not served from it');
      // the snapshot is one commit's state: each log is gap-free from seq 2 (seq 1 is the commit that added them)
      for (const [name, seqs] of Object.entries(served)) {
        const sorted = [...seqs].sort((x, y) => x - y);
        assert.deepEqual(sorted, Array.from({ length: sorted.length }, (_, k) => k + 2), `${name} is a gap-free prefix`);
      }
      t.diagnostic(`served from the backup: ${served.bobG1.size} + ${served.bobG2.size} (dave ${served.daveG2.size})`);

      // new messages are numbered above every seq the first server handed out (also those after the backup), so clients that are ahead accept them
      const highest = Math.max(...loadA.acked, ...beforeA);
      const a2 = await TestSocket.open(second.wsUrl, alice.token);
      sockets.push(a2);
      a2.sendFrame({ t: 'send', rid: 1, group: g1 }, [mlsMessage(g1, 1, 'application', randomBytes(200))]);
      const okAfter = await a2.waitFor((r) => r.frame.t === 'ok' || r.frame.t === 'error');
      assert.equal(okAfter.frame.t, 'ok', JSON.stringify(okAfter.frame));
      const seqAfter = okAfter.frame.t === 'ok' ? (okAfter.frame.seq ?? 0) : 0;
      assert.ok(seqAfter > highest, `seq after restore ${seqAfter} is above ${highest}`);
      await b.waitFor((r) => r.frame.t === 'msg' && r.frame.seq === seqAfter);

      for (const [digest, bytes] of blobsBefore) {
        const res = await fetch(`${second.url}/v1/blobs/${digest}`, { headers: { authorization: `Bearer ${bob.token}` } });
        assert.equal(res.status, 200, `blob ${digest.slice(0, 8)} served`);
        assert.deepEqual(new Uint8Array(await res.arrayBuffer()), new Uint8Array(bytes));
      }
    } finally {
      for (const s of sockets) s.close();
      await first.stop();
      await second.stop();
    }
  });

  it('refuses what it must, with typed errors, and leaves nothing half-written', async () => {
    // a data directory as the server leaves it: a migrated database and one blob
    const dataDir = tempDir();
    const config: ServerConfig = { ...defaultConfig(), dataDir, databaseUrl: undefined };
    const blob = randomBytes(5000);
    {
      const storage = new SqliteStorage({ path: join(dataDir, 'parley.db'), checkpointInWorker: false });
      await storage.migrate();
      await new FsBlobStore(join(dataDir, 'blobs')).put(sha256(blob), Readable.from([blob]), 1 << 20);
      await storage.putBlob({ digest: sha256(blob), size: blob.length, keepUntil: Math.floor(Date.now() / 1000) + 86400 });
      await storage.close();
    }
    const refusal = (code: BackupErrorCode) => (err: unknown) => {
      assert.ok(err instanceof BackupError, String(err));
      assert.equal(err.code, code, err.message);
      return true;
    };
    const out = tempDir();
    const listing = (d: string) => readdirSync(d).sort();

    // an existing target is kept unless --force
    const existing = join(out, 'taken');
    writeFileSync(existing, 'keep me');
    await assert.rejects(backup(config, existing, { force: false }), refusal('exists'));
    assert.equal(readFileSync(existing, 'utf8'), 'keep me');
    assert.deepEqual(listing(out), ['taken']);
    await backup(config, existing, { force: true });
    assert.deepEqual(listing(existing), ['backup.json', 'blobs', 'parley.db']);
    assert.deepEqual(listing(out), ['taken']);
    const good = existing;

    // PostgreSQL: pg_dump is the tool, for both directions; nothing is written
    const pg = { ...config, databaseUrl: 'postgres://nobody@127.0.0.1:1/none' };
    await assert.rejects(backup(pg, join(out, 'pg'), { force: false }), refusal('postgres'));
    await assert.rejects(restore(pg, good, { force: true }), refusal('postgres'));
    assert.deepEqual(listing(out), ['taken']);
    const cli = await admin(dataDir, ['backup', join(out, 'pg')], { DATABASE_URL: pg.databaseUrl });
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /storage is PostgreSQL.*pg_dump --format=custom/);

    // nothing to back up, or a target that is the data directory itself
    await assert.rejects(backup({ ...config, dataDir: tempDir() }, join(out, 'none'), { force: false }), refusal('not_found'));
    await assert.rejects(backup(config, dataDir, { force: true }), refusal('bad_target'));
    assert.ok(listing(dataDir).includes('parley.db'));

    // a damaged live database: the copy fails its check and is removed
    const damagedDir = tempDir();
    writeFileSync(join(damagedDir, 'parley.db'), readFileSync(join(good, 'parley.db')));
    scramble(join(damagedDir, 'parley.db'));
    await assert.rejects(backup({ ...config, dataDir: damagedDir }, join(out, 'from-damaged'), { force: false }), refusal('corrupt'));
    assert.deepEqual(listing(out), ['taken'], 'no partial backup left');

    // restore into an empty data directory works; over data it needs --force; while open it is refused
    const target = tempDir();
    const targetConfig = { ...config, dataDir: target };
    await restore(targetConfig, good, { force: false });
    assert.deepEqual(listing(target), ['blobs', 'parley.db']);
    const before = readFileSync(join(target, 'parley.db'));
    await assert.rejects(restore(targetConfig, good, { force: false }), refusal('not_empty'));
    const open = new SqliteStorage({ path: join(target, 'parley.db'), checkpointInWorker: false });
    try {
      await assert.rejects(restore(targetConfig, good, { force: true }), refusal('server_running'));
    } finally {
      await open.close();
    }
    assert.deepEqual(listing(target), ['blobs', 'parley.db']);
    assert.deepEqual(readFileSync(join(target, 'parley.db')), before);
    await restore(targetConfig, good, { force: true });
    assert.deepEqual(listing(target), ['blobs', 'parley.db']);

    // damaged backups: refused before the data directory is touched
    const damaged = (name: string, harm: (dir: string) => void): string => {
      const copy = join(out, name);
      mkdirSync(copy);
      copyTree(good, copy);
      harm(copy);
      return copy;
    };
    const blobPath = (dir: string) => join(dir, 'blobs', sha256(blob).slice(0, 2), sha256(blob));
    const cases: Array<[string, BackupErrorCode, string]> = [
      ['scrambled database', 'corrupt', damaged('scrambled', (d) => scramble(join(d, 'parley.db')))],
      ['truncated database', 'corrupt', damaged('truncated', (d) => truncateSync(join(d, 'parley.db'), 3000))],
      ['not a database', 'corrupt', damaged('not-db', (d) => writeFileSync(join(d, 'parley.db'), randomBytes(8192)))],
      ['no manifest', 'corrupt', damaged('no-manifest', (d) => rmSync(join(d, 'backup.json')))],
      ['garbled manifest', 'corrupt', damaged('bad-manifest', (d) => writeFileSync(join(d, 'backup.json'), '{"format":"parley-backup"'))],
      ['altered blob', 'corrupt', damaged('bad-blob', (d) => writeFileSync(blobPath(d), randomBytes(5000)))],
      ['missing blob', 'corrupt', damaged('no-blob', (d) => rmSync(blobPath(d)))],
      [
        'newer schema',
        'too_new',
        damaged('newer', (d) => {
          const db = new DatabaseSync(join(d, 'parley.db'));
          db.prepare('INSERT INTO schema_migrations (version, name) VALUES (?, ?)').run(SQLITE_SCHEMA_VERSION + 1, 'from the future');
          db.close();
          const path = join(d, 'backup.json');
          writeFileSync(path, readFileSync(path, 'utf8').replace(/"schemaVersion": \d+/, `"schemaVersion": ${SQLITE_SCHEMA_VERSION + 1}`));
        }),
      ],
      ['not a directory', 'corrupt', join(good, 'parley.db')],
    ];
    for (const [name, code, path] of cases) {
      const fresh = join(tempDir(), 'data');
      await assert.rejects(restore({ ...config, dataDir: fresh }, path, { force: false }), refusal(code), name);
      assert.deepEqual(readdirSync(join(fresh, '..')).filter((n) => n !== 'data' || listing(fresh).length > 0), [], `${name}: nothing written`);
      // and over existing data, with --force, the data stays as it was
      await assert.rejects(restore(targetConfig, path, { force: true }), refusal(code), `${name} (--force)`);
      assert.deepEqual(listing(target), ['blobs', 'parley.db'], `${name}: nothing staged left behind`);
    }
    const after = new DatabaseSync(join(target, 'parley.db'), { readOnly: true });
    assert.equal((after.prepare('SELECT COUNT(*) AS n FROM blobs').get() as { n: number }).n, 1);
    after.close();
  });
});

describe('parley admin restore of an older backup', () => {
  it('migrates a backup written by an earlier schema, as the server would on start', async () => {
    const dataDir = tempDir();
    const older = SQLITE_MIGRATIONS.slice(0, -1);
    const db = new DatabaseSync(join(dataDir, 'parley.db'), { enableForeignKeyConstraints: false });
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)');
    for (const m of older) {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name) VALUES (?, ?)').run(m.version, m.name);
    }
    db.prepare('INSERT INTO users (id, username, skeleton, password_hash, created_day) VALUES (?, ?, ?, ?, ?)').run('U'.repeat(22), 'olduser', 'olduser', 'x', '2026-01-01');
    db.close();
    const config: ServerConfig = { ...defaultConfig(), dataDir, databaseUrl: undefined };
    const made = join(tempDir(), 'old');
    const written = await backup(config, made, { force: false });
    assert.equal(written.schemaVersion, SQLITE_SCHEMA_VERSION - 1);

    const target = tempDir();
    const report = await restore({ ...config, dataDir: target }, made, { force: false });
    assert.deepEqual([report.fromSchema, report.toSchema], [SQLITE_SCHEMA_VERSION - 1, SQLITE_SCHEMA_VERSION]);
    const restored = new DatabaseSync(join(target, 'parley.db'), { readOnly: true });
    const versions = restored.prepare('SELECT version FROM schema_migrations ORDER BY version').all().map((r) => r['version']);
    assert.deepEqual(versions, SQLITE_MIGRATIONS.map((m) => m.version));
    assert.equal(restored.prepare('SELECT username FROM users').get()?.['username'], 'olduser');
    restored.close();
  });
});

/** Overwrites every page but the first with noise. */
function scramble(path: string): void {
  const bytes = readFileSync(path);
  randomBytes(bytes.length - 4096).copy(bytes, 4096);
  writeFileSync(path, bytes);
}

function copyTree(from: string, to: string): void {
  for (const e of readdirSync(from, { withFileTypes: true })) {
    if (e.isDirectory()) {
      mkdirSync(join(to, e.name));
      copyTree(join(from, e.name), join(to, e.name));
    } else writeFileSync(join(to, e.name), readFileSync(join(from, e.name)));
  }
}

describe('parley admin backup and the Web Push keys', () => {
  it('carries vapid.json both ways, checked, and keeps the server’s own when a backup has none', async () => {
    const b64url = (n: number) => randomBytes(n).toString('base64url');
    const keyFile = () => `${JSON.stringify({ publicKey: b64url(65), privateKey: b64url(32) })}\n`;
    const dataDir = tempDir();
    const config: ServerConfig = { ...defaultConfig(), dataDir, databaseUrl: undefined };
    const storage = new SqliteStorage({ path: join(dataDir, 'parley.db'), checkpointInWorker: false });
    await storage.migrate();
    await storage.close();
    const keys = keyFile();
    writeFileSync(join(dataDir, 'vapid.json'), keys, { mode: 0o600 });
    const refusal = (code: BackupErrorCode) => (err: unknown) => err instanceof BackupError && err.code === code;
    const listing = (d: string) => readdirSync(d).sort();

    const out = tempDir();
    const withKeys = join(out, 'with-keys');
    await backup(config, withKeys, { force: false });
    assert.ok(listing(withKeys).includes('vapid.json'));
    assert.equal(readFileSync(join(withKeys, 'vapid.json'), 'utf8'), keys);
    assert.equal(statSync(join(withKeys, 'vapid.json')).mode & 0o777, 0o600);
    assert.equal(parseBackupManifest(readFileSync(join(withKeys, 'backup.json'), 'utf8'), 'backup.json').vapidKeys, true);

    // into an empty data directory, and over one with other keys (--force): the backup's keys
    const fresh = tempDir();
    await restore({ ...config, dataDir: fresh }, withKeys, { force: false });
    assert.equal(readFileSync(join(fresh, 'vapid.json'), 'utf8'), keys);
    writeFileSync(join(fresh, 'vapid.json'), keyFile());
    await restore({ ...config, dataDir: fresh }, withKeys, { force: true });
    assert.equal(readFileSync(join(fresh, 'vapid.json'), 'utf8'), keys);

    // a backup without keys (older, or a server that never made them) leaves the data directory's own
    const noKeysDir = tempDir();
    writeFileSync(join(noKeysDir, 'parley.db'), readFileSync(join(dataDir, 'parley.db')));
    const noKeys = join(out, 'no-keys');
    await backup({ ...config, dataDir: noKeysDir }, noKeys, { force: false });
    assert.ok(!listing(noKeys).includes('vapid.json'));
    assert.equal(parseBackupManifest(readFileSync(join(noKeys, 'backup.json'), 'utf8'), 'backup.json').vapidKeys, false);
    const own = keyFile();
    writeFileSync(join(fresh, 'vapid.json'), own);
    await restore({ ...config, dataDir: fresh }, noKeys, { force: true });
    assert.equal(readFileSync(join(fresh, 'vapid.json'), 'utf8'), own);

    // damaged keys are refused: on the server (no backup written) and in a backup (nothing restored)
    writeFileSync(join(noKeysDir, 'vapid.json'), '{"publicKey":"short"}');
    await assert.rejects(backup({ ...config, dataDir: noKeysDir }, join(out, 'bad'), { force: false }), refusal('corrupt'));
    assert.ok(!listing(out).includes('bad'));
    writeFileSync(join(withKeys, 'vapid.json'), 'not json');
    const untouched = tempDir();
    await assert.rejects(restore({ ...config, dataDir: untouched }, withKeys, { force: false }), refusal('corrupt'));
    assert.deepEqual(listing(untouched), []);
    rmSync(join(withKeys, 'vapid.json'));
    await assert.rejects(restore({ ...config, dataDir: untouched }, withKeys, { force: false }), refusal('corrupt'));
    assert.deepEqual(listing(untouched), []);
  });
});
