import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * `npm start` runs scripts/serve.sh: it builds the server into one plain
 * JavaScript file when a source changed and runs that with node — no tsx in
 * the server process.
 */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BUNDLE = join(ROOT, 'apps/parley/dist/parley.cjs');
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function build(...args: string[]) {
  return spawnSync(process.execPath, [join(ROOT, 'scripts/build-server.mjs'), ...args], { encoding: 'utf8', timeout: 120_000 });
}

describe('the compiled server', () => {
  it('builds when needed, then reports the build up to date', () => {
    const first = build();
    assert.equal(first.status, 0, first.stderr);
    const second = build();
    assert.equal(second.status, 0, second.stderr);
    assert.match(second.stdout, /server: build is up to date/);
    assert.equal(build('--check').status, 0, 'nothing to build');
    const bundle = readFileSync(BUNDLE, 'utf8');
    assert.doesNotMatch(bundle, /require\("tsx|from "tsx/, 'no TypeScript loader in the bundle');
    assert.match(bundle, /\/\/# sourceMappingURL=parley\.cjs\.map\s*$/);
    const map = JSON.parse(readFileSync(`${BUNDLE}.map`, 'utf8')) as { sources: string[] };
    assert.ok(
      map.sources.some((s) => s.endsWith('packages/server/src/server.ts')),
      'stack frames map back to the TypeScript sources',
    );
  });

  it('starts through the launcher, answers /health, and stops on SIGTERM', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-compiled-'));
    dirs.push(dataDir);
    const env: Record<string, string> = { ...(process.env as Record<string, string>), PORT: '0', HOST: '127.0.0.1', PARLEY_DATA_DIR: dataDir, PARLEY_LOG_LEVEL: 'info' };
    delete env['DATABASE_URL'];
    delete env['NATS_URL'];
    delete env['MALLOC_MMAP_THRESHOLD_'];
    // The launcher runs `node` from PATH: make it this one.
    env['PATH'] = `${dirname(process.execPath)}:${env['PATH'] ?? ''}`;
    const child = spawn('sh', [join(ROOT, 'scripts/serve.sh')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no server.started line within 60 s: ${stderr}`)), 60_000);
        child.once('exit', (code) => reject(new Error(`the launcher exited with ${code}: ${stderr}`)));
        createInterface({ input: child.stdout }).on('line', (line) => {
          if (!line.startsWith('{')) return;
          const entry = JSON.parse(line) as { event?: string; port?: number };
          if (entry.event === 'server.started' && typeof entry.port === 'number') {
            clearTimeout(timer);
            resolve(entry.port);
          }
        });
      });
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      assert.equal(health.status, 200);
      assert.equal(((await health.json()) as { status?: unknown }).status, 'ok');

      // The launcher replaced itself with node running the bundle: the same process, no tsx.
      assert.ok(child.pid !== undefined);
      const argv = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
      assert.equal(argv[0], 'node');
      assert.ok(argv.includes('--enable-source-maps'));
      assert.ok(argv.includes(BUNDLE) || argv.includes('apps/parley/dist/parley.cjs'), argv.join(' '));
      assert.ok(!argv.some((a) => a.includes('tsx')), argv.join(' '));
      const environ = readFileSync(`/proc/${child.pid}/environ`, 'utf8').split('\0');
      assert.ok(environ.includes('MALLOC_MMAP_THRESHOLD_=131072'), 'the launcher fixes glibc’s mmap threshold');
      const maps = readFileSync(`/proc/${child.pid}/maps`, 'utf8');
      assert.match(maps, /better-sqlite3/, 'the native SQLite module is loaded from node_modules');

      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('runs admin commands too (loaded only for them)', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-compiled-'));
    dirs.push(dataDir);
    const r = spawnSync(process.execPath, [BUNDLE, 'admin', 'no-such-command'], { env: { ...process.env, PARLEY_DATA_DIR: dataDir, DATABASE_URL: '' }, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /usage|unknown/i);
  });
});
