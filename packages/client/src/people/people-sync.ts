import type { GroupId } from '@parley/protocol';
import type { ClientCore } from '../core/context.js';
import type { GroupState } from '../core/group-state.js';
import type { Outbox } from '../core/outbox.js';
import { ClientError } from '../errors.js';
import { encodeSelfMessage } from '../self/self-messages.js';
import { StoreBatch } from '../store/records.js';
import { MAX_SNAPSHOT_ENTRIES } from './people-entries.js';
import type { BlockEntry, ContactEntry, PeopleMessage, RequestEntry } from './people-entries.js';
import { PeopleRecords, putBlock, putContact, putRequest } from './people-records.js';

/** One lock for every change to the people lists (a change reads, compares and writes several records). */
const PEOPLE_LOCK = 'people-lists' as GroupId;
/** Set (meta) while a change could not be sent to the other devices: they get a snapshot after the next sync. */
const UNSENT_KEY = 'people-unsent';

/** Entries of the three lists, as one change (local or from another own device). */
export interface PeopleChange {
  readonly contacts?: readonly ContactEntry[];
  readonly blocks?: readonly BlockEntry[];
  readonly requests?: readonly RequestEntry[];
}

/** The entries of a change that won (newer than what the device held), with what they replaced. */
export interface AppliedChange {
  readonly contacts: ReadonlyArray<{ entry: ContactEntry; before: ContactEntry | undefined }>;
  readonly blocks: ReadonlyArray<{ entry: BlockEntry; before: BlockEntry | undefined }>;
  readonly requests: ReadonlyArray<{ entry: RequestEntry; before: RequestEntry | undefined }>;
}

/** What follows an applied change: events, blocking, conversation records (people.ts). */
export type ChangeListener = (applied: AppliedChange, origin: 'local' | 'remote') => Promise<void>;

/**
 * The people lists on this device and between this user's devices: every
 * change, local or received, is merged entry by entry (the later `updatedAt`
 * wins; an equal one changes nothing, so a message applied twice is
 * harmless), stored in one batch, then passed to the listener. Local changes
 * go to the user's other devices through the self group; the device that
 * adds a device to the self group sends it a snapshot of all three lists.
 */
export class PeopleSync {
  readonly records: PeopleRecords;
  listener: ChangeListener | undefined;
  /** Called synchronously once a received change is stored, before the listener (people.ts: the in-memory block set). */
  stored: ((applied: AppliedChange) => void) | undefined;
  private followUps: Promise<void> = Promise.resolve();

  constructor(
    private readonly core: ClientCore,
    private readonly state: GroupState,
    private readonly outbox: Outbox,
  ) {
    this.records = new PeopleRecords(core.repo);
  }

  /** A change made on this device: stored, followed up, and sent to the user's other devices. */
  async local(change: PeopleChange): Promise<AppliedChange> {
    const applied = await this.merge(change);
    this.stored?.(applied);
    // Sent before the follow-up, so the other devices get a change before the changes it causes (a block before its deleted requests).
    const messages: PeopleMessage[] = [
      ...applied.contacts.map(({ entry }) => ({ kind: 'contact' as const, ...entry })),
      ...applied.blocks.map(({ entry }) => ({ kind: 'block' as const, ...entry })),
      ...applied.requests.map(({ entry }) => ({ kind: 'request' as const, ...entry })),
    ];
    try {
      // Offline: fail at once rather than hold the call; the other devices get a snapshot after the next sync.
      for (const m of messages) await this.sendToOwnDevices(m, 0);
    } catch (err) {
      await this.markUnsent(err);
    }
    await this.listener?.(applied, 'local');
    return applied;
  }

  /**
   * A people message from another device of this user (the self group has
   * checked the sender and validated it): stored under the people lock
   * before the self-group message is; the follow-up runs once it is.
   */
  async remote(message: PeopleMessage): Promise<() => void> {
    const change: PeopleChange =
      message.kind === 'people'
        ? message
        : message.kind === 'contact'
          ? { contacts: [strip(message)] }
          : message.kind === 'block'
            ? { blocks: [strip(message)] }
            : { requests: [strip(message)] };
    const applied = await this.merge(change, true);
    return () => {
      // At once (before the next frame is processed): what the inbox filter reads.
      this.stored?.(applied);
      // One after the other, in the order the messages were stored (a snapshot's follow-up must not finish after a later change's).
      this.followUps = this.followUps.then(() => this.listener?.(applied, 'remote')).catch((err: unknown) => {
        if (!this.core.isClosed()) this.core.emitError('people', err);
      });
    };
  }

  /** After a sync: if a change could not be sent, the other devices get a snapshot now. */
  async resendIfUnsent(pendingRequests: readonly RequestEntry[]): Promise<void> {
    if ((await this.core.repo.store.get('meta', UNSENT_KEY)) === undefined) return;
    await this.core.repo.commit(new StoreBatch().deleteAll([{ table: 'meta', key: UNSENT_KEY }]));
    try {
      await this.sendAll(pendingRequests);
    } catch (err) {
      await this.markUnsent(err);
    }
  }

  private async markUnsent(err: unknown): Promise<void> {
    if (this.core.isClosed()) return;
    await this.core.repo.commit(new StoreBatch().putText('meta', UNSENT_KEY, '1'));
    if (!(err instanceof ClientError && err.code === 'disconnected')) this.core.emitError('people', err);
  }

  /** This device added devices to the self group: they get all three lists (tombstones included), in snapshots. */
  async sendAll(pendingRequests: readonly RequestEntry[]): Promise<void> {
    const contacts = await this.records.contacts();
    const blocks = await this.records.blocks();
    const stored = await this.records.requests();
    const requests = [...stored, ...pendingRequests.filter((p) => !stored.some((s) => s.conversationId === p.conversationId))];
    for (let i = 0; i === 0 || i < Math.max(contacts.length, blocks.length, requests.length); i += MAX_SNAPSHOT_ENTRIES) {
      const part = { contacts: contacts.slice(i, i + MAX_SNAPSHOT_ENTRIES), blocks: blocks.slice(i, i + MAX_SNAPSHOT_ENTRIES), requests: requests.slice(i, i + MAX_SNAPSHOT_ENTRIES) };
      if (part.contacts.length + part.blocks.length + part.requests.length === 0) return;
      if (this.core.isClosed()) return;
      await this.sendToOwnDevices({ kind: 'people', ...part });
    }
  }

  /**
   * Stores the entries that win over what the device holds. `again` (a
   * received change): entries equal to the held ones count as applied too,
   * without a write, so a message delivered again after its follow-up was
   * lost (a batch that failed) still gets it; every follow-up is idempotent.
   */
  private async merge(change: PeopleChange, again = false): Promise<AppliedChange> {
    return this.core.locks.run(PEOPLE_LOCK, async () => {
      const batch = new StoreBatch();
      const me = this.core.session().account.userId;
      const contacts = await pick(latestBy(change.contacts ?? [], (e) => e.userId).filter((e) => e.userId !== me), (e) => this.records.contact(e.userId), again);
      const blocks = await pick(latestBy(change.blocks ?? [], (e) => e.userId).filter((e) => e.userId !== me), (e) => this.records.block(e.userId), again);
      const hidden = this.core.hiddenGroup();
      const requests = await pick(latestBy(change.requests ?? [], (e) => e.conversationId).filter((e) => e.conversationId !== hidden), (e) => this.records.request(e.conversationId), again);
      for (const c of contacts) if (c.write) putContact(batch, c.entry);
      for (const b of blocks) if (b.write) putBlock(batch, b.entry);
      for (const r of requests) if (r.write) putRequest(batch, r.entry);
      await this.core.repo.commit(batch);
      return { contacts, blocks, requests };
    });
  }


  /** Only through the self group, once it exists with another device in it. */
  private async sendToOwnDevices(message: PeopleMessage, readyTimeoutMs?: number): Promise<void> {
    const { self } = this.core.session();
    const selfConv = await this.core.repo.conversation(self.id);
    if (selfConv?.status !== 'active' || (await this.state.load(self.id)).memberDevices().length < 2) return;
    await this.outbox.sendPlaintext(self.id, encodeSelfMessage(message), [], undefined, readyTimeoutMs === undefined ? {} : { readyTimeoutMs });
  }
}

/**
 * Whether `entry` wins over `held`: a later `updatedAt`; at the same time
 * (two devices in the same millisecond) the greater JSON text, so that every
 * device picks the same one. 0: the same entry.
 */
export function compareEntries<T extends { updatedAt: number }>(entry: T, held: T): number {
  if (entry.updatedAt !== held.updatedAt) return entry.updatedAt - held.updatedAt;
  const a = canonical(entry);
  const b = canonical(held);
  return a === b ? 0 : a > b ? 1 : -1;
}

/** A flat entry as JSON with its keys sorted (the same text on every device). */
function canonical(entry: object): string {
  return JSON.stringify(entry, Object.keys(entry).sort());
}

/** The entries that win over the held ones (`write`), and with `again` the ones equal to them (`before` undefined: followed up as new). */
async function pick<T extends { updatedAt: number }>(entries: readonly T[], held: (e: T) => Promise<T | undefined>, again: boolean): Promise<Array<{ entry: T; before: T | undefined; write: boolean }>> {
  const out: Array<{ entry: T; before: T | undefined; write: boolean }> = [];
  for (const entry of entries) {
    const before = await held(entry);
    const order = before === undefined ? 1 : compareEntries(entry, before);
    if (order > 0) out.push({ entry, before, write: true });
    else if (order === 0 && again) out.push({ entry, before: undefined, write: false });
  }
  return out;
}

/** The latest entry per key (a snapshot could name one twice); exported for its unit test. */
export function latestBy<T extends { updatedAt: number }>(entries: readonly T[], key: (e: T) => string): T[] {
  const out = new Map<string, T>();
  for (const e of entries) {
    const k = key(e);
    const held = out.get(k);
    if (held === undefined || compareEntries(e, held) > 0) out.set(k, e);
  }
  return [...out.values()];
}

function strip<T extends { kind: string }>(m: T): Omit<T, 'kind'> {
  const { kind: _kind, ...entry } = m;
  return entry;
}
