import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;
/** The built web app; PARLEY_E2E_WEB_DIR points at another build (e.g. one made apart while others rebuild apps/web/dist). */
export const WEB_DIST = process.env['PARLEY_E2E_WEB_DIR'] ?? join(ROOT, 'apps/web/dist');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitForHealth(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`parley serve exited with ${child.exitCode}`);
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('parley serve did not become healthy in time');
}

/**
 * A real `parley serve` child process on 127.0.0.1 with its own SQLite data
 * directory and the built web app. It can be stopped and started again on the
 * same port and data (a server restart), and is always stopped by PID.
 */
export class TestServer {
  private child: ChildProcess | undefined;
  private output = '';

  private constructor(
    readonly port: number,
    readonly dataDir: string,
    /** Extra environment for `parley serve` (e.g. smaller quotas). */
    private readonly env: Readonly<Record<string, string>> = {},
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(options: { env?: Readonly<Record<string, string>> } = {}): Promise<TestServer> {
    const s = new TestServer(await freePort(), mkdtempSync(join(tmpdir(), 'parley-e2e-')), options.env);
    await s.resume();
    return s;
  }

  async resume(): Promise<void> {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'apps/parley/src/main.ts'), 'serve'], {
      cwd: ROOT,
      env: { ...process.env, ...this.env, PORT: String(this.port), HOST: '127.0.0.1', PARLEY_DATA_DIR: this.dataDir, PARLEY_WEB_DIR: WEB_DIST, PARLEY_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.child = child;
    await waitForHealth(this.url, child, 20_000);
  }

  /** Stops the process (SIGTERM, then SIGKILL after 5 s). */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child === undefined || child.exitCode !== null || child.pid === undefined) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    process.kill(child.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, 5000);
    await exited;
    clearTimeout(timer);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.resume();
  }

  /** Server output so far (for failure messages; the server never logs content). */
  get log(): string {
    return this.output;
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
