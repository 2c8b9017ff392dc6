import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import {
  decodeServerFrame,
  encodeFrame,
  encodeOpaqueMlsMessage,
  encodePrivateMessageFraming,
  fromBase64Url,
  linkApprovalMessage,
  sessionChallengeMessage,
  toBase64Url,
  type AuthResponse,
  type LinkDeviceResponse,
  type DeviceId,
  type GroupId,
  type ServerFrame,
  type UserId,
} from '@parley/protocol';
import { createAppContext, createLogger, defaultConfig, startServer, type AppContext, type ParleyServer, type ServerConfig, type Storage } from '../../src/index.js';
import { TestDeviceKey, testKeyPackage, type TestKeyPackageOptions } from './device-keys.js';

export { TestDeviceKey, testKeyPackage } from './device-keys.js';

/**
 * A real server on a free port with a fresh data directory, plus helpers that
 * speak the wire protocol with opaque (undecryptable) MLS-shaped payloads.
 * `await using net = await TestNetwork.start()` cleans everything up.
 */
export class TestNetwork {
  private readonly sockets = new Set<TestSocket>();

  private constructor(
    /** Every log line the server wrote, for privacy assertions. */
    readonly logs: string[],
    readonly ctx: AppContext,
    readonly server: ParleyServer,
    readonly dataDir: string,
    private readonly ownsDir: boolean,
  ) {}

  static async start(options: { config?: Partial<ServerConfig>; storage?: Storage; dataDir?: string } = {}): Promise<TestNetwork> {
    const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'parley-net-'));
    const logs: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        logs.push(chunk.toString('utf8'));
        cb();
      },
    });
    const config: ServerConfig = {
      ...defaultConfig(),
      port: 0,
      dataDir,
      logLevel: 'debug',
      argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 },
      validateResponses: true,
      ...options.config,
    };
    const overrides = options.storage ? { storage: options.storage } : {};
    const ctx = await createAppContext(config, { ...overrides, logger: createLogger('debug', sink) });
    const server = await startServer(ctx);
    return new TestNetwork(logs, ctx, server, dataDir, options.dataDir === undefined);
  }

  get url(): string {
    return this.server.url;
  }

  // Responses are asserted field by field in tests; `any` keeps those assertions short.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async http(method: string, path: string, options: { token?: string; body?: unknown; raw?: NonNullable<RequestInit['body']>; headers?: Record<string, string> } = {}): Promise<{ status: number; body: any }> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers['authorization'] = `Bearer ${options.token}`;
    let body: NonNullable<RequestInit['body']> | undefined = options.raw;
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    const res = await fetch(this.url + path, { method, headers, ...(body === undefined ? {} : { body, duplex: 'half' }) } as RequestInit);
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* binary or empty */
    }
    return { status: res.status, body: parsed };
  }

  /** Registers an account; its first device's Ed25519 key stays with the returned account (for signatures and KeyPackages). */
  async register(username = `u${randomBytes(4).toString('hex')}`, password = 'correct horse battery'): Promise<TestAccount> {
    const key = TestDeviceKey.generate();
    const res = await this.http('POST', '/v1/accounts', {
      body: { username, password, device: { name: 'test device', signatureKey: toBase64Url(key.publicKey) } },
    });
    if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
    return new TestAccount(this, res.body as AuthResponse, password, key);
  }

  /** Asks to link a new device with the password alone: a PENDING device and its session, and the link code. */
  async requestLink(username: string, password: string, name = 'new device'): Promise<{ account: TestAccount; link: LinkDeviceResponse }> {
    const key = TestDeviceKey.generate();
    const res = await this.http('POST', '/v1/device-links', { body: { username, password, device: { name, signatureKey: toBase64Url(key.publicKey) } } });
    if (res.status !== 201) throw new Error(`link failed: ${res.status} ${JSON.stringify(res.body)}`);
    const link = res.body as LinkDeviceResponse;
    return { account: new TestAccount(this, link, password, key), link };
  }

  async socket(token: string): Promise<TestSocket> {
    const s = await TestSocket.open(this.url.replace('http', 'ws') + '/v1/ws', token);
    this.sockets.add(s);
    return s;
  }

  /** Opens a socket and says hello without insisting on `ready`: for tests of refused hellos. */
  async hello(token: string): Promise<{ socket: TestSocket; reply: ServerFrame }> {
    const s = await TestSocket.open(this.url.replace('http', 'ws') + '/v1/ws');
    this.sockets.add(s);
    s.sendFrame({ t: 'hello', versions: [1], token });
    const reply = await s.waitFor((r) => r.frame.t === 'ready' || r.frame.t === 'error');
    return { socket: s, reply: reply.frame };
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.close();
    await this.server.close();
    if (this.ownsDir) rmSync(this.dataDir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

export class TestAccount {
  readonly userId: UserId;
  readonly deviceId: DeviceId;
  readonly token: string;
  readonly username: string;
  constructor(
    readonly net: TestNetwork,
    auth: AuthResponse,
    readonly password: string,
    /** This device's signature key pair. */
    readonly key: TestDeviceKey,
  ) {
    this.userId = auth.userId;
    this.deviceId = auth.deviceId;
    this.token = auth.token;
    this.username = auth.username;
  }

  /** A new device of the same account: linked with the password, approved by this device's signature. */
  async newDevice(name = 'second'): Promise<TestAccount> {
    const { account, link } = await this.net.requestLink(this.username, this.password, name);
    await this.approve(link.code, account);
    return account;
  }

  /** Approves a pending device by its link code, signing its id and key with this device's key. */
  async approve(code: string, pending: { deviceId: DeviceId; key: { publicKey: Uint8Array } }): Promise<void> {
    const signature = this.key.sign(linkApprovalMessage(this.userId, pending.deviceId, pending.key.publicKey));
    const res = await this.post(`/v1/device-links/${code}/approve`, { deviceId: pending.deviceId, signature: toBase64Url(signature) });
    if (res.status !== 204) throw new Error(`approve failed: ${res.status} ${JSON.stringify(res.body)}`);
  }

  /** Signs in again on this existing device: a challenge signed with its key, and the password. Resolves with the new token. */
  async signIn(password = this.password): Promise<string> {
    const ch = await this.net.http('POST', '/v1/sessions/challenge', { body: { username: this.username, deviceId: this.deviceId } });
    if (ch.status !== 201) throw new Error(`challenge failed: ${ch.status}`);
    const signature = this.key.sign(sessionChallengeMessage(this.deviceId, ch.body.challenge as string));
    const res = await this.net.http('POST', '/v1/sessions', {
      body: { username: this.username, password, device: { deviceId: this.deviceId, challenge: ch.body.challenge, signature: toBase64Url(signature) } },
    });
    if (res.status !== 201) throw new Error(`sign-in failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.token as string;
  }

  /** A valid KeyPackage of this device (override fields to build a forged one). */
  keyPackage(options: TestKeyPackageOptions = {}): Uint8Array {
    return testKeyPackage(this.key, this.userId, this.deviceId, options);
  }

  /** A KeyPackage as uploaded: { ciphersuite, expiresAt, data }. */
  kp(options: TestKeyPackageOptions = {}): { ciphersuite: number; expiresAt: number; data: string } {
    return { ciphersuite: options.cipherSuite ?? 1, expiresAt: Math.floor(Date.now() / 1000) + 30 * 86400, data: toBase64Url(this.keyPackage(options)) };
  }

  get(path: string) {
    return this.net.http('GET', path, { token: this.token });
  }
  post(path: string, body: unknown) {
    return this.net.http('POST', path, { token: this.token, body });
  }
  delete(path: string) {
    return this.net.http('DELETE', path, { token: this.token });
  }

  connect(): Promise<TestSocket> {
    return this.net.socket(this.token);
  }
}

export function newGroupId(): { id: GroupId; bytes: Uint8Array } {
  const bytes = randomBytes(16);
  return { id: toBase64Url(bytes) as GroupId, bytes };
}

export function groupBytes(id: GroupId): Uint8Array {
  const b = fromBase64Url(id);
  if (!b) throw new Error('bad group id');
  return b;
}

/** An MLS-framed PrivateMessage with random "ciphertext" of a realistic size. */
export function mlsMessage(group: GroupId, epoch: number, type: 'application' | 'proposal' | 'commit', body: Uint8Array = randomBytes(300)): Uint8Array {
  return encodePrivateMessageFraming(groupBytes(group), BigInt(epoch), type, body);
}

export const fakeWelcome = (): Uint8Array => encodeOpaqueMlsMessage('welcome', randomBytes(200));
export const fakeGroupInfo = (): Uint8Array => encodeOpaqueMlsMessage('group_info', randomBytes(120));
export const fakeKeyPackage = (): Uint8Array => encodeOpaqueMlsMessage('key_package', randomBytes(180));

export interface Received {
  frame: ServerFrame;
  payload: Uint8Array;
}

/** A raw protocol client over a real WebSocket. */
export class TestSocket {
  readonly received: Received[] = [];
  private waiters: Array<() => void> = [];
  private rid = 0;
  closed: { code: number; reason: string } | undefined;
  ready: Extract<ServerFrame, { t: 'ready' }> | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const decoded = decodeServerFrame(new Uint8Array(data));
      if (!decoded.ok) throw new Error(`server sent an invalid frame: ${decoded.error}`);
      this.received.push({ frame: decoded.frame, payload: Uint8Array.from(decoded.payload) });
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  static async open(url: string, token?: string): Promise<TestSocket> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const s = new TestSocket(ws);
    if (token !== undefined) {
      s.sendFrame({ t: 'hello', versions: [1], token });
      const ready = await s.waitFor((r) => r.frame.t === 'ready' || r.frame.t === 'error');
      if (ready.frame.t !== 'ready') throw new Error(`hello refused: ${JSON.stringify(ready.frame)}`);
      s.ready = ready.frame;
    }
    return s;
  }

  sendFrame(header: object, parts: Uint8Array[] = []): void {
    this.ws.send(encodeFrame(header, parts));
  }

  sendRaw(data: Uint8Array | string): void {
    this.ws.send(data);
  }

  /** Waits for the first received frame (from `from` on) matching `pred`. */
  async waitFor(pred: (r: Received) => boolean, timeoutMs = 5000, from = 0): Promise<Received> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.slice(from).find(pred);
      if (found) return found;
      if (this.closed) throw new Error(`socket closed (${this.closed.code} ${this.closed.reason}) while waiting`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting; got ${JSON.stringify(this.received.map((r) => r.frame))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async waitClosed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('socket did not close');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.closed;
  }

  /** Sends a frame with a fresh rid and resolves with the ok/error reply. */
  async request(header: Record<string, unknown>, parts: Uint8Array[] = []): Promise<Extract<ServerFrame, { t: 'ok' } | { t: 'error' } | { t: 'pong' }>> {
    const rid = ++this.rid;
    this.sendFrame({ ...header, rid }, parts);
    const r = await this.waitFor((x) => (x.frame.t === 'ok' || x.frame.t === 'error' || x.frame.t === 'pong') && x.frame.rid === rid);
    return r.frame as Extract<ServerFrame, { t: 'ok' } | { t: 'error' } | { t: 'pong' }>;
  }

  send(group: GroupId, epoch: number, body?: Uint8Array, blobs?: string[]) {
    const msg = mlsMessage(group, epoch, 'application', body);
    return this.request({ t: 'send', group, ...(blobs ? { blobs } : {}) }, [msg]);
  }

  commit(group: GroupId, epoch: number, devices: DeviceId[], welcomeTo: DeviceId[] = [], body?: Uint8Array) {
    const c = mlsMessage(group, epoch, 'commit', body);
    const w = welcomeTo.length > 0 ? fakeWelcome() : new Uint8Array(0);
    const gi = fakeGroupInfo();
    return this.request({ t: 'commit', group, devices, welcomeTo, parts: [c.length, w.length, gi.length] }, [c, w, gi]);
  }

  ack(group: GroupId, seq: number): void {
    this.sendFrame({ t: 'ack', group, seq });
  }

  leave(group: GroupId) {
    return this.request({ t: 'leave', group });
  }

  messages(group?: GroupId): Array<Extract<ServerFrame, { t: 'msg' }> & { payload: Uint8Array }> {
    return this.received
      .filter((r) => r.frame.t === 'msg' && (group === undefined || r.frame.group === group))
      .map((r) => ({ ...(r.frame as Extract<ServerFrame, { t: 'msg' }>), payload: r.payload }));
  }

  close(): void {
    this.ws.close();
  }
}
