import { randomBytes } from 'node:crypto';
import { createClient, MemoryStore } from '../../src/index.js';
import type { ClientEventError, ClientOptions, Notice, ParleyClient, Store } from '../../src/index.js';
import { TestNetwork } from '../../../server/test/helpers/test-network.js';
import type { ServerConfig } from '../../../server/src/index.js';

/**
 * A real Parley server (in-process, free port, fresh SQLite data dir) and
 * real clients over real WebSockets. `await using net = await ClientNetwork.start()`.
 */
export class ClientNetwork {
  readonly clients: ParleyClient[] = [];
  /** Every error event any client emitted, for assertions. */
  readonly errors: Array<{ client: ParleyClient; event: ClientEventError }> = [];

  private constructor(readonly server: TestNetwork) {}

  static async start(options: { config?: Partial<ServerConfig>; dataDir?: string; storage?: Parameters<typeof TestNetwork.start>[0] extends infer O ? (O extends { storage?: infer S } ? S : never) : never } = {}): Promise<ClientNetwork> {
    return new ClientNetwork(await TestNetwork.start(options));
  }

  get url(): string {
    return this.server.url;
  }

  async client(options: Partial<ClientOptions> & { store?: Store } = {}): Promise<ParleyClient> {
    const client = await createClient({ serverUrl: this.url, store: options.store ?? new MemoryStore(), deviceSyncIntervalMs: 0, reconnect: { initialMs: 50, maxMs: 500 }, linkPollMs: 50, ...options });
    client.on('error', (event) => this.errors.push({ client, event }));
    this.clients.push(client);
    return client;
  }

  /** A registered, connected and synced client. */
  async user(name = uniqueName(), options: Partial<ClientOptions> = {}): Promise<{ client: ParleyClient; name: string; password: string }> {
    const client = await this.client(options);
    const password = `pw-${randomBytes(8).toString('hex')}`;
    await client.register(name, password);
    await client.whenSynced();
    return { client, name, password };
  }

  /** Another device of an existing user: linked, and approved on the user's first device (by QR uri). */
  async device(user: { client: ParleyClient; name: string; password: string }, options: Partial<ClientOptions> = {}): Promise<ParleyClient> {
    const client = await this.client(options);
    const link = await client.linkDevice(user.name, user.password);
    await user.client.approveLink(link.uri);
    await link.approved;
    await client.whenSynced();
    return client;
  }

  errorsOf(client: ParleyClient): ClientEventError[] {
    return this.errors.filter((e) => e.client === client).map((e) => e.event);
  }

  async close(): Promise<void> {
    for (const c of this.clients) await c.close();
    await this.server.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

export function uniqueName(prefix = 'u'): string {
  return `${prefix}${randomBytes(5).toString('hex')}`;
}

/** Polls until `check` returns a truthy value (or throws the last failure on timeout). */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== null && v !== false) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The texts of a conversation's stored messages, in order (notices left out: see `notices`). */
export async function texts(client: ParleyClient, conversationId: string): Promise<string[]> {
  const messages = await client.messages(conversationId as Parameters<ParleyClient['messages']>[0]);
  return messages.filter((m) => m.content.type !== 'notice').map((m) => (m.content.type === 'text' ? m.content.text : `[${m.content.type}]`));
}

/** The notices this device wrote into a conversation's history, in order. */
export async function notices(client: ParleyClient, conversationId: string): Promise<Notice[]> {
  const messages = await client.messages(conversationId as Parameters<ParleyClient['messages']>[0]);
  return messages.flatMap((m) => (m.content.type === 'notice' ? [m.content.notice] : []));
}
