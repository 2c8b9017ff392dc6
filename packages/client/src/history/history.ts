import { z } from 'zod';
import { DeviceIdSchema, toBase64Url } from '@parley/protocol';
import type { DeviceId, GroupId } from '@parley/protocol';
import type { ClientCore } from '../core/context.js';
import type { GroupState } from '../core/group-state.js';
import type { Outbox } from '../core/outbox.js';
import { ClientError } from '../errors.js';
import { encodeSelfMessage } from '../self/self-messages.js';
import { putExpiry } from '../settings/expiry-index.js';
import { MediaRecords } from '../media/media-records.js';
import { StoreBatch } from '../store/records.js';
import type { ConversationRecord } from '../store/records.js';
import type { HistoryEvent } from '../types.js';
import { DEFAULT_PART_BYTES } from './archive-format.js';
import { HistoryArchiveMessageSchema } from './archive-message.js';
import type { HistoryArchiveMessage } from './archive-message.js';
import { HistoryImportError, readArchive } from './archive-reader.js';
import type { ArchivedMoment } from '../moments/moment-archive.js';
import type { ImportPlan } from './archive-reader.js';
import { writeArchive } from './archive-writer.js';
import type { HistoryScope } from './archive-writer.js';

/** The approving device waits at most this long for the new device to be in its self group. */
const JOIN_WAIT_MS = 10 * 60_000;
/** Once it is, at most this much longer for the new device to be in every conversation (the rest are left out). */
const CONVERSATIONS_WAIT_MS = 60_000;
const POLL_MS = 250;
/** Parts are made smaller (÷4) when the server refuses one as too large, down to this. */
const MIN_PART_BYTES = 1024;
/** While waiting, device sync is nudged this often (it also runs on `devices_changed`). */
const NUDGE_MS = 5_000;
/** The new device keeps an archive naming conversations it has no record of (their Welcome may come later) at most this long. */
const PENDING_MAX_MS = 60_000;
/** An archive received but not yet imported (meta table), so that a restart picks it up again. */
const PENDING_PREFIX = 'history/pending/';
/** A transfer this device promised at approval and has not sent yet (meta table), so that a restart still sends it. */
const OUTGOING_PREFIX = 'history/outgoing/';
const OutgoingSchema = z.object({ v: z.literal(1), deviceId: DeviceIdSchema, scope: z.enum(['month', 'all']), approvedAt: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) });

interface Waiting {
  readonly message: HistoryArchiveMessage;
  readonly plan: ImportPlan;
  readonly missing: Set<GroupId>;
  readonly timer: ReturnType<typeof setTimeout>;
}

/**
 * History on a newly linked device (docs/protocol.md, "History on a linked
 * device"). On the approving device: once the new device is in the self
 * group and the conversations, an encrypted archive of their history (and
 * the media kept here) is uploaded and its key sent in the self group,
 * addressed to that device. On the new device: the archive is downloaded,
 * checked and validated whole, then stored in one batch, or not at all.
 */
export class History {
  /** Set by wireFeatures: Moments records in the archive (moments/moment-archive.ts). */
  moments: { lines(since: number | null): AsyncIterable<{ key: string; value: string }>; importInto(batch: StoreBatch, items: readonly ArchivedMoment[]): Promise<() => void> } | undefined;

  /** Archives this device is importing or has handled this session (by id). */
  private readonly handled = new Set<string>();
  private readonly waiting = new Map<string, Waiting>();
  /** Devices this device is sending history to now. */
  private readonly sending = new Set<DeviceId>();

  constructor(
    private readonly core: ClientCore,
    private readonly state: GroupState,
    private readonly outbox: Outbox,
    private readonly now: () => number,
    private readonly partBytes: number = DEFAULT_PART_BYTES,
  ) {}

  /* ---------------- the approving device ---------------- */

  /**
   * After approving `deviceId`: sends it the history in `scope` once device
   * sync has added it (in the background; resolves once the promise is
   * stored). The promise is kept in the store until it is sent (or given
   * up), so a restart of this device still sends it.
   */
  async approved(deviceId: DeviceId, scope: HistoryScope): Promise<void> {
    if (scope === 'none') return;
    const record = { v: 1, deviceId, scope, approvedAt: Date.now() } as const;
    await this.core.repo.commit(new StoreBatch().putText('meta', OUTGOING_PREFIX + deviceId, JSON.stringify(record)));
    void this.send(record);
  }

  /** Runs one promised transfer (once at a time per device); the promise is dropped once it is sent or cannot be. */
  private async send(record: z.output<typeof OutgoingSchema>): Promise<void> {
    if (this.sending.has(record.deviceId) || this.core.isClosed()) return;
    this.sending.add(record.deviceId);
    try {
      await this.transfer(record.deviceId, record.scope, record.approvedAt);
      await this.core.repo.commit(new StoreBatch().deleteAll([{ table: 'meta', key: OUTGOING_PREFIX + record.deviceId }]));
    } catch (err) {
      if (this.core.isClosed()) return; // the next start tries again
      await this.core.repo.commit(new StoreBatch().deleteAll([{ table: 'meta', key: OUTGOING_PREFIX + record.deviceId }])).catch(() => undefined);
      this.core.emitError('history', err);
    } finally {
      this.sending.delete(record.deviceId);
    }
  }

  /** Waits for the device, writes and uploads the archive, sends its key. Returns what it sent (undefined: nothing to send). */
  async transfer(deviceId: DeviceId, scope: Exclude<HistoryScope, 'none'>, approvedAt = Date.now()): Promise<HistoryArchiveMessage | undefined> {
    const conversations = await this.waitForDevice(deviceId, approvedAt);
    // Nothing shared with the new device (no conversation yet): nothing to send, and nothing for it to show.
    if (conversations.length === 0) return undefined;
    const records = await Promise.all(conversations.map(async (id) => this.state.record(id)));
    const write = (partBytes: number) =>
      writeArchive({
        store: this.core.repo.store,
        conversations: records.map((c) => ({ id: c.id, readSeq: c.readSeq })),
        scope,
        now: this.now(),
        partBytes,
        upload: async (digest, bytes) => {
          await this.core.api.putBlob(digest, bytes);
        },
        isClosed: () => this.core.isClosed(),
        ...(this.moments === undefined ? {} : { moments: this.moments.lines }),
      });
    // The server's blob limit is not published: a part it refuses as too large means smaller parts (a new key; the parts sent are collected unused).
    let partBytes = this.partBytes;
    let written;
    for (;;) {
      try {
        written = await write(partBytes);
        break;
      } catch (err) {
        if (!(err instanceof ClientError && err.code === 'payload_too_large') || partBytes <= MIN_PART_BYTES) throw err;
        partBytes = Math.max(MIN_PART_BYTES, Math.floor(partBytes / 4));
      }
    }
    const message: HistoryArchiveMessage = {
      kind: 'history_archive',
      archiveId: toBase64Url(crypto.getRandomValues(new Uint8Array(16))),
      forDevice: deviceId,
      format: 1,
      ...written,
    };
    const { self } = this.core.session();
    await this.outbox.sendPlaintext(
      self.id,
      encodeSelfMessage(message),
      written.blobs.map((b) => b.digest),
    );
    return message;
  }

  /**
   * The conversations to send, once `deviceId` is a member of this user's
   * self group (device sync added it; without it the key cannot reach it)
   * and of every active conversation here, or CONVERSATIONS_WAIT_MS after it
   * joined the self group (those it is in by then).
   */
  private async waitForDevice(deviceId: DeviceId, start: number): Promise<GroupId[]> {
    let joinedSelfAt: number | undefined;
    let nudgedAt = Date.now();
    for (;;) {
      if (this.core.isClosed()) throw new ClientError('closed', 'the client closed before the history was sent');
      const { self, deviceSync } = this.core.session();
      if (await this.isMember(self.id, deviceId)) {
        joinedSelfAt ??= Date.now();
        const active = (await this.core.repo.conversations()).filter((c) => c.status === 'active' && c.id !== self.id);
        const members = await Promise.all(active.map(async (c) => ((await this.isMember(c.id, deviceId)) ? c.id : undefined)));
        const joined = members.filter((id): id is GroupId => id !== undefined);
        if (joined.length === active.length || Date.now() - joinedSelfAt >= CONVERSATIONS_WAIT_MS) return joined;
      } else if (Date.now() - start >= JOIN_WAIT_MS) {
        throw new ClientError('not_active', `device ${deviceId} was not added to this account's devices in time; no history was sent`);
      }
      if (Date.now() - nudgedAt >= NUDGE_MS) {
        nudgedAt = Date.now();
        deviceSync.schedule(0);
      }
      await sleep(POLL_MS);
    }
  }

  private async isMember(groupId: GroupId, deviceId: DeviceId): Promise<boolean> {
    try {
      const group = await this.state.load(groupId);
      return group.active && group.memberDevices().some((d) => d.deviceId === deviceId);
    } catch {
      return false;
    }
  }

  /* ---------------- the new device ---------------- */

  /**
   * A `history_archive` self-group message, under the self group's lock:
   * one for another device is ignored; one for this device is kept in
   * `batch` (stored with the message) and imported once it is stored.
   */
  received(batch: StoreBatch, message: HistoryArchiveMessage): () => void {
    const me = this.core.current()?.account.deviceId;
    if (message.forDevice !== me) return () => undefined;
    batch.putText('meta', PENDING_PREFIX + message.archiveId, JSON.stringify({ v: 1, ...message }));
    return () => setTimeout(() => void this.start(message), 0);
  }

  /**
   * After each sync: transfers promised before a restart are sent, and
   * archives received but not imported before a restart are imported (once
   * per session each).
   */
  async resume(): Promise<void> {
    for (const row of await this.core.repo.store.list('meta', { prefix: OUTGOING_PREFIX })) {
      let parsed;
      try {
        parsed = OutgoingSchema.safeParse(JSON.parse(row.value));
      } catch {
        parsed = undefined;
      }
      if (parsed?.success === true && OUTGOING_PREFIX + parsed.data.deviceId === row.key) void this.send(parsed.data);
      else await this.core.repo.commit(new StoreBatch().deleteAll([{ table: 'meta', key: row.key }]));
    }
    for (const row of await this.core.repo.store.list('meta', { prefix: PENDING_PREFIX })) {
      let parsed;
      try {
        parsed = HistoryArchiveMessageSchema.safeParse(JSON.parse(row.value));
      } catch {
        parsed = undefined;
      }
      if (parsed?.success !== true || PENDING_PREFIX + parsed.data.archiveId !== row.key) {
        await this.core.repo.commit(new StoreBatch().deleteAll([{ table: 'meta', key: row.key }]));
        continue;
      }
      void this.start(parsed.data);
    }
  }

  /** A conversation arrived (its Welcome): an archive waiting for it is imported now. */
  noteConversation(conversationId: GroupId): void {
    for (const [id, w] of this.waiting) {
      if (!w.missing.delete(conversationId) || w.missing.size > 0) continue;
      clearTimeout(w.timer);
      this.waiting.delete(id);
      void this.settle(w.message, w.plan, false);
    }
  }

  private async start(message: HistoryArchiveMessage): Promise<void> {
    if (this.handled.has(message.archiveId) || this.core.isClosed()) return;
    this.handled.add(message.archiveId);
    this.emit({ state: 'importing' });
    let plan: ImportPlan;
    try {
      plan = await readArchive(message, { me: this.core.session().account.deviceId, store: this.core.repo.store, download: (digest) => this.core.api.getBlob(digest) });
    } catch (err) {
      return this.fail(message, err);
    }
    await this.settle(message, plan, false);
  }

  /** Imports `plan` now, or, while some of its conversations are not on this device yet (and not `final`), waits for them. */
  private async settle(message: HistoryArchiveMessage, plan: ImportPlan, final: boolean): Promise<void> {
    if (this.core.isClosed()) return;
    try {
      if (!final) {
        const missing = new Set<GroupId>();
        for (const c of plan.conversations) if ((await this.core.repo.conversation(c.id)) === undefined) missing.add(c.id);
        if (missing.size > 0) {
          const timer = setTimeout(() => {
            this.waiting.delete(message.archiveId);
            void this.settle(message, plan, true);
          }, PENDING_MAX_MS);
          (timer as { unref?: () => void }).unref?.();
          this.waiting.set(message.archiveId, { message, plan, missing, timer });
          this.emit({ state: 'importing', waitingFor: missing.size });
          return;
        }
      }
      const messages = await this.commit(message, plan);
      this.emit({ state: 'imported', messages });
    } catch (err) {
      this.fail(message, new HistoryImportError('store_failed', 'the history could not be stored', { cause: err }));
    }
  }

  /**
   * Stores the plan in ONE batch, under the locks of every conversation it
   * touches (taken in id order): records this device already has win,
   * records past its cursor are left to arrive by themselves, conversations
   * it has no (active) record of are skipped. Returns the messages stored.
   */
  private async commit(message: HistoryArchiveMessage, plan: ImportPlan): Promise<number> {
    const { account } = this.core.session();
    const ids = plan.conversations.map((c) => c.id).sort();
    const touched: ConversationRecord[] = [];
    const count = await withLocks(this.core, ids, async () => {
      const batch = new StoreBatch();
      const media = new MediaRecords(this.core.repo.store);
      const now = this.now();
      let stored = 0;
      for (const planned of plan.conversations) {
        const conv = await this.core.repo.conversation(planned.id);
        if (conv === undefined || conv.status === 'removed' || conv.status === 'left') continue;
        const existing = new Set((await this.core.repo.store.list('messages', { prefix: `${conv.id}/` })).map((r) => r.key));
        let last = conv.lastMessageSeq ?? 0;
        let added = 0;
        for (const m of planned.messages) {
          if (m.seq > conv.lastSeq || existing.has(m.key) || (m.expiresAt !== undefined && m.expiresAt <= now)) continue;
          batch.putText('messages', m.key, m.value);
          if (m.expiresAt !== undefined) putExpiry(batch, conv.id, m.seq, m.expiresAt);
          added++;
          if (!m.notice) {
            stored++;
            last = Math.max(last, m.seq);
          }
        }
        for (const digest of planned.mediaDigests) {
          if ((await media.header(digest)) !== undefined) continue;
          batch.writes.push(...planned.media.writes.filter((w) => w.key.split('/')[1] === digest));
        }
        if (added === 0) continue;
        const readSeq = Math.max(conv.readSeq, Math.min(planned.readSeq, conv.lastSeq));
        const lastMessageSeq = last > 0 ? last : null;
        const unread = await this.core.repo.countUnread(conv.id, readSeq, account.userId, batch, lastMessageSeq);
        const updated = { ...conv, readSeq, lastMessageSeq, unread };
        batch.putConversation(updated);
        touched.push(updated);
      }
      // Moments (their own records; the new device fetches bodies and photos after).
      const momentsDone = this.moments === undefined || plan.moments.length === 0 ? undefined : await this.moments.importInto(batch, plan.moments);
      batch.deleteAll([{ table: 'meta', key: PENDING_PREFIX + message.archiveId }]);
      await this.core.repo.commit(batch);
      momentsDone?.();
      return stored;
    });
    for (const c of touched) this.core.emit('conversation', this.state.toConversation(c));
    return count;
  }

  private fail(message: HistoryArchiveMessage, err: unknown): void {
    if (this.core.isClosed()) return;
    const reason = err instanceof HistoryImportError ? err.reason : 'invalid_archive';
    // Nothing of it was stored; the record of the pending archive goes (it cannot succeed later).
    this.core.repo
      .commit(new StoreBatch().deleteAll([{ table: 'meta', key: PENDING_PREFIX + message.archiveId }]))
      .catch(() => undefined)
      .finally(() => {
        this.emit({ state: 'failed', reason });
        this.core.emitError('history', err);
      });
  }

  private emit(event: HistoryEvent): void {
    if (!this.core.isClosed()) this.core.emit('history', event);
  }
}

/** Runs `fn` holding the locks of every id (taken in the given order, which callers sort). */
async function withLocks<T>(core: ClientCore, ids: readonly GroupId[], fn: () => Promise<T>): Promise<T> {
  const [first, ...rest] = ids;
  if (first === undefined) return fn();
  return core.locks.run(first, () => withLocks(core, rest, fn));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    (t as { unref?: () => void }).unref?.();
  });
}
