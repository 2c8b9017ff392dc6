import Database from 'better-sqlite3';
import type { BlobDigest, DeviceId, GroupId, MessageKind, UserId } from '@parley/protocol';
import {
  StorageError,
  type AppendCommitInput,
  type AppendMessageInput,
  type AppendResult,
  type BacklogCursor,
  type BlobRecord,
  type ClaimedKeyPackage,
  type CommitResult,
  type DeviceRecord,
  type GroupRecord,
  type KeyPackageCount,
  type KeyPackageIn,
  type NewDevice,
  type NewSession,
  type SessionRecord,
  type Storage,
  type StorageHealth,
  type StoredMessage,
  type SweepResult,
  type UserRecord,
} from '../storage.js';
import { SQLITE_MIGRATIONS } from './migrations.js';
import { SqliteCheckpointer } from './checkpointer.js';
import { SqliteWriteQueue } from './write-queue.js';

type Row = Record<string, unknown>;

function str(row: Row, key: string): string {
  const v = row[key];
  if (typeof v !== 'string') throw new Error(`storage row: ${key} is not text`);
  return v;
}
function num(row: Row, key: string): number {
  const v = row[key];
  if (typeof v === 'bigint') return Number(v);
  if (typeof v !== 'number') throw new Error(`storage row: ${key} is not a number`);
  return v;
}
function bytes(row: Row, key: string): Uint8Array {
  const v = row[key];
  if (!(v instanceof Uint8Array)) throw new Error(`storage row: ${key} is not a blob`);
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}
const KINDS: readonly string[] = ['application', 'proposal', 'commit', 'welcome'];
function kind(row: Row): MessageKind {
  const v = str(row, 'kind');
  if (!KINDS.includes(v)) throw new Error('storage row: unknown message kind');
  return v as MessageKind;
}

function toUser(row: Row): UserRecord {
  return {
    id: str(row, 'id') as UserId,
    username: str(row, 'username'),
    skeleton: str(row, 'skeleton'),
    passwordHash: str(row, 'password_hash'),
    createdDay: str(row, 'created_day'),
  };
}
function toDevice(row: Row): DeviceRecord {
  return {
    id: str(row, 'id') as DeviceId,
    userId: str(row, 'user_id') as UserId,
    name: str(row, 'name'),
    signatureKey: bytes(row, 'signature_key'),
    createdDay: str(row, 'created_day'),
    revoked: num(row, 'revoked') !== 0,
  };
}
function toGroup(row: Row): GroupRecord {
  return { id: str(row, 'id') as GroupId, epoch: num(row, 'epoch'), lastSeq: num(row, 'last_seq') };
}

function isUniqueViolation(err: unknown): boolean {
  return err instanceof Error && 'code' in err && String((err as { code: unknown }).code).startsWith('SQLITE_CONSTRAINT');
}

export interface SqliteStorageOptions {
  /** File path, or ':memory:'. */
  path: string;
  /** Checkpoint the WAL on a worker thread (default) instead of inside commits. */
  checkpointInWorker?: boolean;
}

/**
 * Embedded default storage on SQLite (WAL). Reads run directly; writes are
 * queued and committed together once per event-loop tick in one transaction,
 * each inside its own savepoint so one failing write does not undo the others.
 */
export class SqliteStorage implements Storage {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly writes: SqliteWriteQueue;
  private readonly checkpointer: SqliteCheckpointer | undefined;

  private readonly statements = new Map<string, Database.Statement>();
  /**
   * Current member devices per group, as read inside write batches (every
   * message append needs them). Dropped when this process changes a group's
   * membership, after any rollback, and when another connection has committed
   * (PRAGMA data_version), so it never outlives what it was read from.
   */
  private readonly members = new Map<GroupId, { list: DeviceId[]; set: ReadonlySet<DeviceId> }>();
  /**
   * Pending Welcomes as `device group` → seq, loaded on first use and kept like
   * `members`, so an acknowledgement only touches the welcomes table when
   * there is a Welcome to delete (almost never).
   */
  private welcomeSeqs: Map<string, number> | undefined;
  private readonly dataVersion: Database.Statement;
  private seenDataVersion: unknown;

  /** Prepared statements are compiled once and reused: preparing costs more than most of our queries. */
  private q(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  constructor(options: SqliteStorageOptions) {
    this.db = new Database(options.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    if (options.path !== ':memory:' && options.checkpointInWorker !== false) {
      // Checkpoints run on a worker thread (see checkpointer.ts), not inside our commits.
      this.db.pragma('wal_autocheckpoint = 0');
      this.checkpointer = new SqliteCheckpointer(options.path, 1000);
    }
    // Freed pages are zeroed so deleted ciphertext does not linger in the file.
    this.db.pragma('secure_delete = ON');
    this.dataVersion = this.db.prepare('PRAGMA data_version').pluck();
    this.seenDataVersion = this.dataVersion.get();
    this.writes = new SqliteWriteQueue(this.db, {
      beforeBatch: () => {
        // Another connection (the admin CLI, say) committed: what we remember may be stale.
        const v = this.dataVersion.get();
        if (v !== this.seenDataVersion) {
          this.seenDataVersion = v;
          this.forget();
        }
      },
      rolledBack: () => this.forget(),
    });
  }

  async migrate(): Promise<void> {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)');
    const applied = new Set(
      (this.q('SELECT version FROM schema_migrations').all() as Row[]).map((r) => num(r, 'version')),
    );
    for (const m of SQLITE_MIGRATIONS) {
      if (applied.has(m.version)) continue;
      this.db.transaction(() => {
        this.db.exec(m.sql);
        this.q('INSERT INTO schema_migrations (version, name) VALUES (?, ?)').run(m.version, m.name);
      })();
    }
  }

  async close(): Promise<void> {
    await this.writes.drain();
    await this.checkpointer?.stop();
    if (this.db.open) {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
      this.db.close();
    }
  }

  async health(): Promise<StorageHealth> {
    try {
      this.q('SELECT 1').get();
      return { kind: 'sqlite', ok: true };
    } catch {
      return { kind: 'sqlite', ok: false };
    }
  }

  /* ---------- accounts ---------- */

  createAccount(user: UserRecord, device: NewDevice | undefined, session: NewSession | undefined): Promise<void> {
    return this.writes.run(() => {
      try {
        this.q('INSERT INTO users (id, username, skeleton, password_hash, created_day) VALUES (?, ?, ?, ?, ?)')
          .run(user.id, user.username, user.skeleton, user.passwordHash, user.createdDay);
      } catch (err) {
        if (isUniqueViolation(err)) throw new StorageError('username_taken', 'username taken');
        throw err;
      }
      if (device) {
        this.insertDevice(user.id, device, user.createdDay);
        if (session) this.insertSession(user.id, device.id, session);
      }
    });
  }

  private insertDevice(userId: UserId, device: NewDevice, createdDay: string): void {
    try {
      this.q('INSERT INTO devices (id, user_id, name, signature_key, created_day, revoked) VALUES (?, ?, ?, ?, ?, 0)')
        .run(device.id, userId, device.name, device.signatureKey, createdDay);
    } catch (err) {
      if (isUniqueViolation(err)) throw new StorageError('device_exists', 'device exists');
      throw err;
    }
  }

  private insertSession(userId: UserId, deviceId: DeviceId, session: NewSession): void {
    this.q('INSERT INTO sessions (token_hash, user_id, device_id, expires_at) VALUES (?, ?, ?, ?)')
      .run(session.tokenHash, userId, deviceId, session.expiresAt);
  }

  async getUserByUsername(normalized: string): Promise<UserRecord | undefined> {
    const row = this.q('SELECT * FROM users WHERE username = ?').get(normalized) as Row | undefined;
    return row ? toUser(row) : undefined;
  }

  async getUserById(id: UserId): Promise<UserRecord | undefined> {
    const row = this.q('SELECT * FROM users WHERE id = ?').get(id) as Row | undefined;
    return row ? toUser(row) : undefined;
  }

  async skeletonTaken(skeleton: string): Promise<boolean> {
    return this.q('SELECT 1 FROM users WHERE skeleton = ?').get(skeleton) !== undefined;
  }

  addDevice(userId: UserId, device: NewDevice, createdDay: string, session: NewSession): Promise<void> {
    return this.writes.run(() => {
      if (this.q('SELECT 1 FROM users WHERE id = ?').get(userId) === undefined) {
        throw new StorageError('not_found', 'user not found');
      }
      this.insertDevice(userId, device, createdDay);
      this.insertSession(userId, device.id, session);
    });
  }

  addSession(userId: UserId, deviceId: DeviceId, session: NewSession): Promise<void> {
    return this.writes.run(() => {
      const row = this.q('SELECT revoked FROM devices WHERE id = ? AND user_id = ?').get(deviceId, userId) as Row | undefined;
      if (!row) throw new StorageError('not_found', 'device not found');
      if (num(row, 'revoked') !== 0) throw new StorageError('device_revoked', 'device revoked');
      this.insertSession(userId, deviceId, session);
    });
  }

  async getDevice(id: DeviceId): Promise<DeviceRecord | undefined> {
    const row = this.q('SELECT * FROM devices WHERE id = ?').get(id) as Row | undefined;
    return row ? toDevice(row) : undefined;
  }

  async listDevices(userId: UserId): Promise<DeviceRecord[]> {
    return (this.q('SELECT * FROM devices WHERE user_id = ? ORDER BY rowid').all(userId) as Row[]).map(toDevice);
  }

  revokeDevice(id: DeviceId): Promise<GroupId[]> {
    return this.writes.run(() => {
      const row = this.q('SELECT revoked FROM devices WHERE id = ?').get(id) as Row | undefined;
      if (!row) throw new StorageError('not_found', 'device not found');
      this.q('UPDATE devices SET revoked = 1 WHERE id = ?').run(id);
      this.q('DELETE FROM sessions WHERE device_id = ?').run(id);
      this.q('DELETE FROM key_packages WHERE device_id = ?').run(id);
      this.q('DELETE FROM welcomes WHERE device_id = ?').run(id);
      this.welcomeSeqs = undefined;
      const rows = this.q('SELECT group_id, until_seq FROM group_devices WHERE device_id = ? ORDER BY group_id').all(id) as Row[];
      this.q('DELETE FROM group_devices WHERE device_id = ?').run(id);
      this.members.clear();
      for (const r of rows) this.trimSync(str(r, 'group_id') as GroupId);
      return rows.filter((r) => r['until_seq'] === null).map((r) => str(r, 'group_id') as GroupId);
    });
  }

  async getSession(tokenHash: Uint8Array, now: number): Promise<SessionRecord | undefined> {
    const row = this.q(
        `SELECT s.user_id, s.device_id, s.expires_at FROM sessions s JOIN devices d ON d.id = s.device_id
         WHERE s.token_hash = ? AND s.expires_at > ? AND d.revoked = 0`,
      )
      .get(tokenHash, now) as Row | undefined;
    if (!row) return undefined;
    return { userId: str(row, 'user_id') as UserId, deviceId: str(row, 'device_id') as DeviceId, expiresAt: num(row, 'expires_at') };
  }

  deleteSession(tokenHash: Uint8Array): Promise<void> {
    return this.writes.run(() => {
      this.q('DELETE FROM sessions WHERE token_hash = ?').run(tokenHash);
    });
  }

  /* ---------- key packages ---------- */

  addKeyPackages(deviceId: DeviceId, packages: readonly KeyPackageIn[], lastResort: KeyPackageIn | undefined, max: number, now: number): Promise<KeyPackageCount> {
    return this.writes.run(() => {
      const dev = this.q('SELECT revoked FROM devices WHERE id = ?').get(deviceId) as Row | undefined;
      if (!dev) throw new StorageError('not_found', 'device not found');
      if (num(dev, 'revoked') !== 0) throw new StorageError('device_revoked', 'device revoked');
      this.q('DELETE FROM key_packages WHERE device_id = ? AND expires_at <= ?').run(deviceId, now);
      const existing = num(
        this.q('SELECT COUNT(*) AS n FROM key_packages WHERE device_id = ? AND last_resort = 0').get(deviceId) as Row,
        'n',
      );
      if (existing + packages.length > max) {
        throw new StorageError('too_many_key_packages', `at most ${max} key packages may be stored`, { max, existing });
      }
      const insert = this.q('INSERT INTO key_packages (device_id, ciphersuite, expires_at, last_resort, data) VALUES (?, ?, ?, ?, ?)');
      for (const p of packages) insert.run(deviceId, p.ciphersuite, p.expiresAt, 0, p.data);
      if (lastResort) {
        this.q('DELETE FROM key_packages WHERE device_id = ? AND last_resort = 1').run(deviceId);
        insert.run(deviceId, lastResort.ciphersuite, lastResort.expiresAt, 1, lastResort.data);
      }
      return this.countSync(deviceId, now);
    });
  }

  private countSync(deviceId: DeviceId, now: number): KeyPackageCount {
    const row = this.q(
        `SELECT COALESCE(SUM(CASE WHEN last_resort = 0 THEN 1 ELSE 0 END), 0) AS available,
                COALESCE(SUM(last_resort), 0) AS lr
         FROM key_packages WHERE device_id = ? AND expires_at > ?`,
      )
      .get(deviceId, now) as Row;
    return { available: num(row, 'available'), lastResort: num(row, 'lr') > 0 };
  }

  claimKeyPackages(deviceIds: readonly DeviceId[], now: number): Promise<ClaimedKeyPackage[]> {
    return this.writes.run(() => {
      const out: ClaimedKeyPackage[] = [];
      const active = this.q('SELECT 1 FROM devices WHERE id = ? AND revoked = 0');
      const pick = this.q(
        `SELECT id, ciphersuite, data, last_resort FROM key_packages
         WHERE device_id = ? AND expires_at > ? ORDER BY last_resort ASC, id ASC LIMIT 1`,
      );
      const consume = this.q('DELETE FROM key_packages WHERE id = ?');
      for (const deviceId of deviceIds) {
        if (active.get(deviceId) === undefined) continue;
        const row = pick.get(deviceId, now) as Row | undefined;
        if (!row) continue;
        const lastResort = num(row, 'last_resort') !== 0;
        if (!lastResort) consume.run(num(row, 'id'));
        out.push({ deviceId, ciphersuite: num(row, 'ciphersuite'), data: bytes(row, 'data'), lastResort });
      }
      return out;
    });
  }

  async countKeyPackages(deviceId: DeviceId, now: number): Promise<KeyPackageCount> {
    return this.countSync(deviceId, now);
  }

  /* ---------- groups ---------- */

  createGroup(id: GroupId, creator: DeviceId): Promise<GroupRecord> {
    return this.writes.run(() => {
      try {
        this.q('INSERT INTO mls_groups (id, epoch, last_seq) VALUES (?, 0, 0)').run(id);
      } catch (err) {
        if (isUniqueViolation(err)) throw new StorageError('group_exists', 'group exists');
        throw err;
      }
      this.q('INSERT INTO group_devices (group_id, device_id, acked_seq) VALUES (?, ?, 0)').run(id, creator);
      this.members.delete(id);
      return { id, epoch: 0, lastSeq: 0 };
    });
  }

  async getGroup(id: GroupId): Promise<GroupRecord | undefined> {
    const row = this.q('SELECT id, epoch, last_seq FROM mls_groups WHERE id = ?').get(id) as Row | undefined;
    return row ? toGroup(row) : undefined;
  }

  async groupDevices(id: GroupId): Promise<DeviceId[]> {
    return this.groupDevicesSync(id);
  }

  /** Current members (devices that are leaving still have a cursor but are not members). */
  private groupDevicesSync(id: GroupId): DeviceId[] {
    return (this.q('SELECT device_id FROM group_devices WHERE group_id = ? AND until_seq IS NULL ORDER BY device_id').all(id) as Row[]).map(
      (r) => str(r, 'device_id') as DeviceId,
    );
  }

  /** Drops everything remembered from the database. */
  private forget(): void {
    this.members.clear();
    this.welcomeSeqs = undefined;
  }

  private pendingWelcomeSeqs(): Map<string, number> {
    if (this.welcomeSeqs === undefined) {
      const rows = this.q('SELECT device_id, group_id, seq FROM welcomes').all() as Row[];
      this.welcomeSeqs = new Map(rows.map((r) => [`${str(r, 'device_id')} ${str(r, 'group_id')}`, num(r, 'seq')]));
    }
    return this.welcomeSeqs;
  }

  /** Members as of now, for use inside a write batch only (see `members`). */
  private cachedMembers(id: GroupId): { list: DeviceId[]; set: ReadonlySet<DeviceId> } {
    let m = this.members.get(id);
    if (!m) {
      if (this.members.size >= 10_000) this.members.clear();
      const list = this.groupDevicesSync(id);
      m = { list, set: new Set(list) };
      this.members.set(id, m);
    }
    return m;
  }

  async isMember(id: GroupId, deviceId: DeviceId): Promise<boolean> {
    return this.isMemberSync(id, deviceId);
  }

  private isMemberSync(id: GroupId, deviceId: DeviceId): boolean {
    return this.q('SELECT 1 FROM group_devices WHERE group_id = ? AND device_id = ? AND until_seq IS NULL').get(id, deviceId) !== undefined;
  }

  async groupsOfDevice(deviceId: DeviceId): Promise<GroupRecord[]> {
    return (
      this.q(
        `SELECT g.id, g.epoch, g.last_seq FROM group_devices d JOIN mls_groups g ON g.id = d.group_id
         WHERE d.device_id = ? AND d.until_seq IS NULL ORDER BY g.id`,
      ).all(deviceId) as Row[]
    ).map(toGroup);
  }

  async getGroupInfo(id: GroupId): Promise<Uint8Array | undefined> {
    const row = this.q('SELECT group_info FROM mls_groups WHERE id = ?').get(id) as Row | undefined;
    if (!row || row['group_info'] === null) return undefined;
    return bytes(row, 'group_info');
  }

  private memberGroup(id: GroupId, sender: DeviceId): GroupRecord {
    const row = this.q('SELECT id, epoch, last_seq FROM mls_groups WHERE id = ?').get(id) as Row | undefined;
    if (!row) throw new StorageError('not_found', 'group not found');
    if (!this.isMemberSync(id, sender)) throw new StorageError('not_member', 'not a member of this group');
    return toGroup(row);
  }

  private insertMessage(groupId: GroupId, seq: number, k: 'application' | 'proposal' | 'commit', epoch: number, payload: Uint8Array, expiresAt: number): void {
    this.q('INSERT INTO group_messages (group_id, seq, kind, epoch, payload, expires_at) VALUES (?, ?, ?, ?, ?, ?)').run(groupId, seq, k, epoch, payload, expiresAt);
  }

  /** The sender has seen its own message: move its cursor when nothing before it is outstanding. */
  private advanceSender(groupId: GroupId, sender: DeviceId, seq: number): void {
    this.q('UPDATE group_devices SET acked_seq = ? WHERE group_id = ? AND device_id = ? AND acked_seq = ?').run(seq, groupId, sender, seq - 1);
  }

  appendMessage(input: AppendMessageInput): Promise<AppendResult> {
    return this.writes.run(() => {
      // Taking the next seq first saves a read; a refusal below rolls it back with the rest.
      const row = this.q('UPDATE mls_groups SET last_seq = last_seq + 1 WHERE id = ? RETURNING epoch, last_seq').get(input.groupId) as Row | undefined;
      if (!row) throw new StorageError('not_found', 'group not found');
      const epoch = num(row, 'epoch');
      const seq = num(row, 'last_seq');
      const members = this.cachedMembers(input.groupId);
      if (!members.set.has(input.senderDevice)) throw new StorageError('not_member', 'not a member of this group');
      const stale = input.kind === 'proposal' ? input.epoch !== epoch : input.epoch > epoch;
      if (stale) throw new StorageError('epoch_conflict', `group is at epoch ${epoch}`, { epoch });
      const blobCheck = this.q('SELECT 1 FROM blobs WHERE digest = ?');
      for (const d of input.blobs) {
        if (blobCheck.get(d) === undefined) throw new StorageError('not_found', 'referenced blob not found', { blob: d });
      }
      this.insertMessage(input.groupId, seq, input.kind, input.epoch, input.payload, input.expiresAt);
      this.advanceSender(input.groupId, input.senderDevice, seq);
      const ref = this.q('INSERT OR IGNORE INTO blob_refs (group_id, seq, digest) VALUES (?, ?, ?)');
      const keep = this.q('UPDATE blobs SET keep_until = MAX(keep_until, ?) WHERE digest = ?');
      for (const d of input.blobs) {
        ref.run(input.groupId, seq, d);
        keep.run(input.blobKeepUntil, d);
      }
      const recipients = members.list.filter((d) => d !== input.senderDevice);
      if (recipients.length === 0) this.trimSync(input.groupId);
      return { seq, epoch, recipients };
    });
  }

  appendCommit(input: AppendCommitInput): Promise<CommitResult> {
    return this.writes.run(() => {
      const group = this.memberGroup(input.groupId, input.senderDevice);
      if (input.epoch !== group.epoch) {
        throw new StorageError('epoch_conflict', `group is at epoch ${group.epoch}`, { epoch: group.epoch });
      }
      const before = this.groupDevicesSync(input.groupId);
      const beforeSet = new Set(before);
      const after = new Set(input.devices);
      if (!after.has(input.senderDevice)) throw new StorageError('invalid_membership', 'the committer must remain a member');
      const active = this.q('SELECT 1 FROM devices WHERE id = ? AND revoked = 0');
      for (const d of after) {
        if (!beforeSet.has(d) && active.get(d) === undefined) {
          throw new StorageError('invalid_membership', 'unknown or revoked device in member list', { device: d });
        }
      }
      const welcomeTo = [...new Set(input.welcome?.to ?? [])];
      for (const d of welcomeTo) {
        if (!after.has(d) || beforeSet.has(d)) throw new StorageError('invalid_membership', 'welcome must go to newly added devices');
      }
      const seq = group.lastSeq + 1;
      const epoch = group.epoch + 1;
      this.q('UPDATE mls_groups SET last_seq = ?, epoch = ?, group_info = COALESCE(?, group_info) WHERE id = ?').run(seq, epoch, input.groupInfo ?? null, input.groupId);
      this.insertMessage(input.groupId, seq, 'commit', group.epoch, input.commit, input.expiresAt);
      this.advanceSender(input.groupId, input.senderDevice, seq);
      // Removed devices keep a cursor up to this commit so they learn they were removed.
      const leave = this.q('UPDATE group_devices SET until_seq = ?, leave_expires_at = ? WHERE group_id = ? AND device_id = ?');
      for (const d of before) if (!after.has(d)) leave.run(seq, input.expiresAt, input.groupId, d);
      // Added devices start after this commit (they join from the Welcome).
      const join = this.q(
        `INSERT INTO group_devices (group_id, device_id, acked_seq, until_seq, leave_expires_at) VALUES (?, ?, ?, NULL, NULL)
         ON CONFLICT (group_id, device_id) DO UPDATE SET acked_seq = excluded.acked_seq, until_seq = NULL, leave_expires_at = NULL`,
      );
      for (const d of after) if (!beforeSet.has(d)) join.run(input.groupId, d, seq);
      if (input.welcome && welcomeTo.length > 0) {
        const put = this.q(
          `INSERT OR REPLACE INTO welcomes (device_id, group_id, seq, epoch, welcome, group_info, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
        );
        const pending = this.pendingWelcomeSeqs();
        for (const d of welcomeTo) {
          put.run(d, input.groupId, seq, epoch, input.welcome.data, input.groupInfo ?? null, input.expiresAt);
          pending.set(`${d} ${input.groupId}`, seq);
        }
      }
      this.members.delete(input.groupId);
      const recipients = before.filter((d) => d !== input.senderDevice);
      if (recipients.length === 0) this.trimSync(input.groupId);
      return { seq, epoch, recipients, welcomeRecipients: input.welcome ? welcomeTo : [] };
    });
  }

  async pendingWelcomes(deviceId: DeviceId): Promise<StoredMessage[]> {
    const rows = this.q('SELECT group_id, seq, epoch, welcome, group_info FROM welcomes WHERE device_id = ? ORDER BY group_id').all(deviceId) as Row[];
    return rows.map((r) => ({
      groupId: str(r, 'group_id') as GroupId,
      seq: num(r, 'seq'),
      kind: 'welcome' as const,
      epoch: num(r, 'epoch'),
      parts: [bytes(r, 'welcome'), r['group_info'] === null ? new Uint8Array(0) : bytes(r, 'group_info')],
    }));
  }

  async pendingMessages(deviceId: DeviceId, after: BacklogCursor | undefined, limit: number): Promise<StoredMessage[]> {
    const rows = this.q(
      `SELECT m.group_id, m.seq, m.kind, m.epoch, m.payload
       FROM group_devices d JOIN group_messages m ON m.group_id = d.group_id AND m.seq > d.acked_seq
       WHERE d.device_id = ? AND (d.until_seq IS NULL OR m.seq <= d.until_seq)
         AND (m.group_id > ? OR (m.group_id = ? AND m.seq > ?))
       ORDER BY m.group_id, m.seq LIMIT ?`,
    ).all(deviceId, after?.groupId ?? '', after?.groupId ?? '', after?.seq ?? 0, limit) as Row[];
    return rows.map((r) => ({ groupId: str(r, 'group_id') as GroupId, seq: num(r, 'seq'), kind: kind(r), epoch: num(r, 'epoch'), parts: [bytes(r, 'payload')] }));
  }

  ack(deviceId: DeviceId, groupId: GroupId, seq: number): Promise<void> {
    return this.writes.run(() => {
      const moved = this.q('UPDATE group_devices SET acked_seq = ? WHERE group_id = ? AND device_id = ? AND acked_seq < ? RETURNING until_seq').get(seq, groupId, deviceId, seq) as Row | undefined;
      // A removed device that has now read up to its removal needs no cursor any more.
      const until = moved?.['until_seq'];
      if (typeof until === 'number' && seq >= until) this.q('DELETE FROM group_devices WHERE group_id = ? AND device_id = ?').run(groupId, deviceId);
      const pending = this.pendingWelcomeSeqs();
      const key = `${deviceId} ${groupId}`;
      const welcomeSeq = pending.get(key);
      if (welcomeSeq !== undefined && welcomeSeq <= seq) {
        this.q('DELETE FROM welcomes WHERE device_id = ? AND group_id = ? AND seq <= ?').run(deviceId, groupId, seq);
        pending.delete(key);
      }
    });
  }

  /** Deletes what every cursor has passed; a group nobody reads any more keeps nothing. */
  private trimSync(groupId: GroupId): number {
    return this.q(
      `DELETE FROM group_messages WHERE group_id = ?
       AND seq <= COALESCE((SELECT MIN(acked_seq) FROM group_devices WHERE group_id = ?), 9007199254740991)`,
    ).run(groupId, groupId).changes;
  }

  trim(groupIds: readonly GroupId[]): Promise<number> {
    return this.writes.run(() => groupIds.reduce((n, g) => n + this.trimSync(g), 0));
  }

  /* ---------- blobs ---------- */

  putBlob(blob: BlobRecord): Promise<void> {
    return this.writes.run(() => {
      this.q(
          `INSERT INTO blobs (digest, size, keep_until) VALUES (?, ?, ?)
           ON CONFLICT (digest) DO UPDATE SET keep_until = MAX(keep_until, excluded.keep_until)`,
        )
        .run(blob.digest, blob.size, blob.keepUntil);
    });
  }

  async getBlob(digest: BlobDigest): Promise<BlobRecord | undefined> {
    const row = this.q('SELECT digest, size, keep_until FROM blobs WHERE digest = ?').get(digest) as Row | undefined;
    if (!row) return undefined;
    return { digest: str(row, 'digest') as BlobDigest, size: num(row, 'size'), keepUntil: num(row, 'keep_until') };
  }

  async collectableBlobs(now: number, limit: number): Promise<BlobDigest[]> {
    return (
      this.q(
          `SELECT digest FROM blobs b WHERE keep_until <= ?
           AND NOT EXISTS (SELECT 1 FROM blob_refs r WHERE r.digest = b.digest) ORDER BY digest LIMIT ?`,
        )
        .all(now, limit) as Row[]
    ).map((r) => str(r, 'digest') as BlobDigest);
  }

  deleteBlobs(digests: readonly BlobDigest[]): Promise<BlobDigest[]> {
    return this.writes.run(() => {
      const del = this.q(
        'DELETE FROM blobs WHERE digest = ? AND NOT EXISTS (SELECT 1 FROM blob_refs r WHERE r.digest = blobs.digest)',
      );
      return digests.filter((d) => del.run(d).changes > 0);
    });
  }

  sweep(now: number): Promise<SweepResult> {
    return this.writes.run(() => {
      const messages = this.q('DELETE FROM group_messages WHERE expires_at <= ?').run(now).changes;
      const welcomes = this.q('DELETE FROM welcomes WHERE expires_at <= ?').run(now).changes;
      if (welcomes > 0) this.welcomeSeqs = undefined;
      this.q('DELETE FROM group_devices WHERE until_seq IS NOT NULL AND leave_expires_at <= ?').run(now);
      const sessions = this.q('DELETE FROM sessions WHERE expires_at <= ?').run(now).changes;
      const keyPackages = this.q('DELETE FROM key_packages WHERE expires_at <= ?').run(now).changes;
      return { messages, welcomes, sessions, keyPackages };
    });
  }
}
