import { createHash } from 'node:crypto';
import { DatabaseError, Pool } from 'pg';
import type { PoolClient } from 'pg';
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
import { Batcher } from './batcher.js';
import { POSTGRES_MIGRATIONS } from './migrations.js';

type Row = Record<string, unknown>;

function str(row: Row, key: string): string {
  const v = row[key];
  if (typeof v !== 'string') throw new Error(`storage row: ${key} is not text`);
  return v;
}
// BIGINT and COUNT(*) arrive as decimal strings: pg will not guess at precision.
function num(row: Row, key: string): number {
  const v = row[key];
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) {
    const n = Number(v);
    if (Number.isSafeInteger(n)) return n;
  }
  throw new Error(`storage row: ${key} is not a safe integer`);
}
function bool(row: Row, key: string): boolean {
  const v = row[key];
  if (typeof v !== 'boolean') throw new Error(`storage row: ${key} is not a boolean`);
  return v;
}
// A copy, not a view: pg may decode small values into Node's shared buffer
// pool, and a view's `.buffer` would expose whatever else lives there.
function bytes(row: Row, key: string): Uint8Array {
  const v = row[key];
  if (!(v instanceof Uint8Array)) throw new Error(`storage row: ${key} is not bytea`);
  return new Uint8Array(v);
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
    revoked: bool(row, 'revoked'),
  };
}
function toGroup(row: Row): GroupRecord {
  return { id: str(row, 'id') as GroupId, epoch: num(row, 'epoch'), lastSeq: num(row, 'last_seq') };
}

function isUniqueViolation(err: unknown): boolean {
  return err instanceof DatabaseError && err.code === '23505';
}

async function rows(c: PoolClient, sql: string, params: readonly unknown[] = []): Promise<Row[]> {
  return (await c.query<Row>(sql, [...params])).rows;
}
async function changes(c: PoolClient, sql: string, params: readonly unknown[] = []): Promise<number> {
  return (await c.query(sql, [...params])).rowCount ?? 0;
}

/** Our functions' SQLSTATEs (class PA, migration 3) back to the interface's typed errors. */
function storageErrorFor(code: string, detail: string): StorageError | undefined {
  switch (code) {
    case 'PA001':
      return new StorageError('not_found', 'group not found');
    case 'PA002':
      return new StorageError('not_member', 'not a member of this group');
    case 'PA003': {
      const epoch = Number(detail);
      return new StorageError('epoch_conflict', `group is at epoch ${epoch}`, { epoch });
    }
    case 'PA004':
      return new StorageError('not_found', 'referenced blob not found', { blob: detail });
    default:
      return undefined;
  }
}

function mapAppendError(err: unknown): unknown {
  if (!(err instanceof DatabaseError) || err.code === undefined) return err;
  return storageErrorFor(err.code, err.detail ?? '') ?? err;
}

function members(row: Row): DeviceId[] {
  const m = row['r_members'];
  if (!Array.isArray(m) || !m.every((x): x is string => typeof x === 'string')) throw new Error('storage row: r_members is not text[]');
  return m as DeviceId[];
}

const DEVICE_COLUMNS = 'id, user_id, name, signature_key, created_day, revoked';
/** Current members of a group: devices with a cursor that is not leaving. */
const MEMBERS_SQL = 'SELECT device_id FROM group_devices WHERE group_id = $1 AND until_seq IS NULL ORDER BY device_id COLLATE "C"';
const SCHEMA_NAME = /^[a-z_][a-z0-9_]*$/;

export interface PostgresStorageOptions {
  connectionString: string;
  /** Schema holding the tables (created by migrate()); the server's default search_path when absent. */
  schema?: string;
  /** Pool size. */
  max?: number;
}

/**
 * Storage on PostgreSQL, for several server processes sharing one database.
 * Every write is one READ COMMITTED transaction; races between processes are
 * settled by row locks, always taken in the same order (device, then group,
 * then blobs, then cursors by (group, device), then welcomes) so transactions
 * queue rather than deadlock.
 */
export class PostgresStorage implements Storage {
  readonly kind = 'postgres' as const;
  private readonly pool: Pool;
  private readonly schema: string | undefined;
  private readonly prepared = new WeakSet<PoolClient>();
  private readonly appends = new Batcher<AppendMessageInput, AppendResult>((inputs) => this.appendBatch(inputs));
  private readonly acks = new Batcher<{ deviceId: DeviceId; groupId: GroupId; seq: number }, undefined>((inputs) => this.ackBatch(inputs));
  private closed = false;

  constructor(options: PostgresStorageOptions) {
    if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema)) {
      throw new Error('postgres storage: schema must match /^[a-z_][a-z0-9_]*$/');
    }
    this.schema = options.schema;
    this.pool = new Pool({ connectionString: options.connectionString, ...(options.max !== undefined ? { max: options.max } : {}) });
    // An idle connection that drops is removed by the pool; the next query reports
    // the outage. Without a listener the error would crash the process.
    this.pool.on('error', () => undefined);
  }

  /**
   * Checks out a connection, pointing it at the schema the first time it is
   * seen: done here, awaited, so a failure surfaces as the caller's error
   * instead of leaving a connection that silently writes to another schema.
   */
  private async checkout(): Promise<PoolClient> {
    const client = await this.pool.connect();
    if (this.schema !== undefined && !this.prepared.has(client)) {
      try {
        await client.query(`SET search_path TO "${this.schema}"`);
      } catch (err) {
        client.release(true);
        throw err;
      }
      this.prepared.add(client);
    }
    return client;
  }

  private async tx<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.checkout();
    let discard = false;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        discard = true;
      }
      throw err;
    } finally {
      client.release(discard);
    }
  }

  /** A single statement is its own transaction; no BEGIN/COMMIT round trips needed. */
  private async read(sql: string, params: readonly unknown[]): Promise<Row[]> {
    const client = await this.checkout();
    let discard = false;
    try {
      return await rows(client, sql, params);
    } catch (err) {
      // A server-reported error leaves the connection usable; anything else may not.
      discard = !(err instanceof DatabaseError);
      throw err;
    } finally {
      client.release(discard);
    }
  }

  async migrate(): Promise<void> {
    // Keyed by schema so test schemas in one database migrate independently.
    const lockKey = createHash('sha256')
      .update(`parley:migrate:${this.schema ?? ''}`)
      .digest()
      .readBigInt64BE(0)
      .toString();
    await this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKey]);
      if (this.schema !== undefined) await c.query(`CREATE SCHEMA IF NOT EXISTS "${this.schema}"`);
      await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)');
      const applied = new Set((await rows(c, 'SELECT version FROM schema_migrations')).map((r) => num(r, 'version')));
      for (const m of POSTGRES_MIGRATIONS) {
        if (applied.has(m.version)) continue;
        await c.query(m.sql);
        await c.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  async health(): Promise<StorageHealth> {
    try {
      await this.read('SELECT 1', []);
      return { kind: 'postgres', ok: true };
    } catch {
      return { kind: 'postgres', ok: false };
    }
  }

  /* ---------- accounts ---------- */

  createAccount(user: UserRecord, device: NewDevice | undefined, session: NewSession | undefined): Promise<void> {
    return this.tx(async (c) => {
      try {
        await c.query('INSERT INTO users (id, username, skeleton, password_hash, created_day) VALUES ($1, $2, $3, $4, $5)', [
          user.id,
          user.username,
          user.skeleton,
          user.passwordHash,
          user.createdDay,
        ]);
      } catch (err) {
        if (isUniqueViolation(err)) throw new StorageError('username_taken', 'username taken');
        throw err;
      }
      if (device) {
        await this.insertDevice(c, user.id, device, user.createdDay);
        if (session) await this.insertSession(c, user.id, device.id, session);
      }
    });
  }

  private async insertDevice(c: PoolClient, userId: UserId, device: NewDevice, createdDay: string): Promise<void> {
    try {
      await c.query('INSERT INTO devices (id, user_id, name, signature_key, created_day, revoked) VALUES ($1, $2, $3, $4, $5, FALSE)', [
        device.id,
        userId,
        device.name,
        device.signatureKey,
        createdDay,
      ]);
    } catch (err) {
      if (isUniqueViolation(err)) throw new StorageError('device_exists', 'device exists');
      throw err;
    }
  }

  private async insertSession(c: PoolClient, userId: UserId, deviceId: DeviceId, session: NewSession): Promise<void> {
    await c.query('INSERT INTO sessions (token_hash, user_id, device_id, expires_at) VALUES ($1, $2, $3, $4)', [
      session.tokenHash,
      userId,
      deviceId,
      session.expiresAt,
    ]);
  }

  async getUserByUsername(normalized: string): Promise<UserRecord | undefined> {
    const row = (await this.read('SELECT * FROM users WHERE username = $1', [normalized]))[0];
    return row ? toUser(row) : undefined;
  }

  async getUserById(id: UserId): Promise<UserRecord | undefined> {
    const row = (await this.read('SELECT * FROM users WHERE id = $1', [id]))[0];
    return row ? toUser(row) : undefined;
  }

  async skeletonTaken(skeleton: string): Promise<boolean> {
    return (await this.read('SELECT 1 FROM users WHERE skeleton = $1', [skeleton])).length > 0;
  }

  addDevice(userId: UserId, device: NewDevice, createdDay: string, session: NewSession): Promise<void> {
    return this.tx(async (c) => {
      if ((await rows(c, 'SELECT 1 FROM users WHERE id = $1', [userId])).length === 0) {
        throw new StorageError('not_found', 'user not found');
      }
      await this.insertDevice(c, userId, device, createdDay);
      await this.insertSession(c, userId, device.id, session);
    });
  }

  addSession(userId: UserId, deviceId: DeviceId, session: NewSession): Promise<void> {
    return this.tx(async (c) => {
      // FOR SHARE waits out a concurrent revocation instead of adding a session it would have deleted.
      const row = (await rows(c, 'SELECT revoked FROM devices WHERE id = $1 AND user_id = $2 FOR SHARE', [deviceId, userId]))[0];
      if (!row) throw new StorageError('not_found', 'device not found');
      if (bool(row, 'revoked')) throw new StorageError('device_revoked', 'device revoked');
      await this.insertSession(c, userId, deviceId, session);
    });
  }

  async getDevice(id: DeviceId): Promise<DeviceRecord | undefined> {
    const row = (await this.read(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE id = $1`, [id]))[0];
    return row ? toDevice(row) : undefined;
  }

  async listDevices(userId: UserId): Promise<DeviceRecord[]> {
    return (await this.read(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = $1 ORDER BY created_seq`, [userId])).map(toDevice);
  }

  revokeDevice(id: DeviceId): Promise<GroupId[]> {
    return this.tx(async (c) => {
      // The device row lock makes concurrent commits adding this device (they hold it FOR SHARE
      // while writing its cursor and welcome) wait, then see it revoked. Nothing else writes
      // per-device delivery rows, so the groups themselves need no lock: a commit that re-adds
      // a leaving device could otherwise deadlock against us over the group row.
      if ((await changes(c, 'UPDATE devices SET revoked = TRUE WHERE id = $1', [id])) === 0) {
        throw new StorageError('not_found', 'device not found');
      }
      await c.query('DELETE FROM sessions WHERE device_id = $1', [id]);
      await c.query('DELETE FROM key_packages WHERE device_id = $1', [id]);
      // Cursor rows are locked in (group, device) order, as appendCommit locks those it changes,
      // and before the device's welcomes, as ack and appendCommit do.
      const gone = await rows(
        c,
        `WITH gone AS (
           DELETE FROM group_devices d USING (
             SELECT group_id FROM group_devices WHERE device_id = $1 ORDER BY group_id COLLATE "C" FOR UPDATE) l
           WHERE d.group_id = l.group_id AND d.device_id = $1
           RETURNING d.group_id, d.until_seq)
         SELECT group_id, until_seq FROM gone ORDER BY group_id COLLATE "C"`,
        [id],
      );
      await c.query('DELETE FROM welcomes WHERE device_id = $1', [id]);
      await this.trimGroups(c, gone.map((r) => str(r, 'group_id') as GroupId));
      return gone.filter((r) => r['until_seq'] === null).map((r) => str(r, 'group_id') as GroupId);
    });
  }

  async getSession(tokenHash: Uint8Array, now: number): Promise<SessionRecord | undefined> {
    const row = (
      await this.read(
        `SELECT s.user_id, s.device_id, s.expires_at FROM sessions s JOIN devices d ON d.id = s.device_id
         WHERE s.token_hash = $1 AND s.expires_at > $2 AND NOT d.revoked`,
        [tokenHash, now],
      )
    )[0];
    if (!row) return undefined;
    return { userId: str(row, 'user_id') as UserId, deviceId: str(row, 'device_id') as DeviceId, expiresAt: num(row, 'expires_at') };
  }

  deleteSession(tokenHash: Uint8Array): Promise<void> {
    return this.tx(async (c) => {
      await c.query('DELETE FROM sessions WHERE token_hash = $1', [tokenHash]);
    });
  }

  /* ---------- key packages ---------- */

  addKeyPackages(deviceId: DeviceId, packages: readonly KeyPackageIn[], lastResort: KeyPackageIn | undefined, max: number, now: number): Promise<KeyPackageCount> {
    return this.tx(async (c) => {
      // Serializes uploads for one device, so two at once cannot both pass the cap check.
      const dev = (await rows(c, 'SELECT revoked FROM devices WHERE id = $1 FOR NO KEY UPDATE', [deviceId]))[0];
      if (!dev) throw new StorageError('not_found', 'device not found');
      if (bool(dev, 'revoked')) throw new StorageError('device_revoked', 'device revoked');
      await c.query('DELETE FROM key_packages WHERE device_id = $1 AND expires_at <= $2', [deviceId, now]);
      const countRow = (await rows(c, 'SELECT COUNT(*) AS n FROM key_packages WHERE device_id = $1 AND NOT last_resort', [deviceId]))[0];
      const existing = countRow ? num(countRow, 'n') : 0;
      if (existing + packages.length > max) {
        throw new StorageError('too_many_key_packages', `at most ${max} key packages may be stored`, { max, existing });
      }
      if (packages.length > 0) {
        await c.query(
          `INSERT INTO key_packages (device_id, ciphersuite, expires_at, last_resort, data)
           SELECT $1, t.cs, t.ex, FALSE, t.d FROM unnest($2::integer[], $3::bigint[], $4::bytea[]) AS t(cs, ex, d)`,
          [deviceId, packages.map((p) => p.ciphersuite), packages.map((p) => p.expiresAt), packages.map((p) => p.data)],
        );
      }
      if (lastResort) {
        await c.query('DELETE FROM key_packages WHERE device_id = $1 AND last_resort', [deviceId]);
        await c.query('INSERT INTO key_packages (device_id, ciphersuite, expires_at, last_resort, data) VALUES ($1, $2, $3, TRUE, $4)', [
          deviceId,
          lastResort.ciphersuite,
          lastResort.expiresAt,
          lastResort.data,
        ]);
      }
      return this.count(c, deviceId, now);
    });
  }

  private async count(c: PoolClient, deviceId: DeviceId, now: number): Promise<KeyPackageCount> {
    return PostgresStorage.toCount(
      await rows(
        c,
        `SELECT COUNT(*) FILTER (WHERE NOT last_resort) AS available, COUNT(*) FILTER (WHERE last_resort) AS lr
         FROM key_packages WHERE device_id = $1 AND expires_at > $2`,
        [deviceId, now],
      ),
    );
  }

  private static toCount(result: Row[]): KeyPackageCount {
    const row = result[0];
    if (!row) throw new Error('storage row: missing count');
    return { available: num(row, 'available'), lastResort: num(row, 'lr') > 0 };
  }

  claimKeyPackages(deviceIds: readonly DeviceId[], now: number): Promise<ClaimedKeyPackage[]> {
    return this.tx(async (c) => {
      if (deviceIds.length === 0) return [];
      // FOR SHARE: claims run side by side, but a revocation waits for them (and they for it).
      const active = new Set(
        (
          await rows(c, 'SELECT id FROM devices WHERE id = ANY($1::text[]) AND NOT revoked ORDER BY id COLLATE "C" FOR SHARE', [
            [...new Set(deviceIds)],
          ])
        ).map((r) => str(r, 'id')),
      );
      const out: ClaimedKeyPackage[] = [];
      for (const deviceId of deviceIds) {
        if (!active.has(deviceId)) continue;
        // SKIP LOCKED: a package another transaction is taking is passed over, never handed out twice
        // and never waited for.
        let row = (
          await rows(
            c,
            `DELETE FROM key_packages WHERE id = (
               SELECT id FROM key_packages WHERE device_id = $1 AND NOT last_resort AND expires_at > $2
               ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
             RETURNING ciphersuite, data`,
            [deviceId, now],
          )
        )[0];
        let lastResort = false;
        if (!row) {
          row = (
            await rows(c, 'SELECT ciphersuite, data FROM key_packages WHERE device_id = $1 AND last_resort AND expires_at > $2 ORDER BY id LIMIT 1', [
              deviceId,
              now,
            ])
          )[0];
          lastResort = true;
        }
        if (!row) continue;
        out.push({ deviceId, ciphersuite: num(row, 'ciphersuite'), data: bytes(row, 'data'), lastResort });
      }
      return out;
    });
  }

  async countKeyPackages(deviceId: DeviceId, now: number): Promise<KeyPackageCount> {
    return PostgresStorage.toCount(
      await this.read(
        `SELECT COUNT(*) FILTER (WHERE NOT last_resort) AS available, COUNT(*) FILTER (WHERE last_resort) AS lr
         FROM key_packages WHERE device_id = $1 AND expires_at > $2`,
        [deviceId, now],
      ),
    );
  }

  /* ---------- groups ---------- */

  createGroup(id: GroupId, creator: DeviceId): Promise<GroupRecord> {
    return this.tx(async (c) => {
      try {
        await c.query('INSERT INTO mls_groups (id, epoch, last_seq) VALUES ($1, 0, 0)', [id]);
      } catch (err) {
        if (isUniqueViolation(err)) throw new StorageError('group_exists', 'group exists');
        throw err;
      }
      await c.query('INSERT INTO group_devices (group_id, device_id, acked_seq) VALUES ($1, $2, 0)', [id, creator]);
      return { id, epoch: 0, lastSeq: 0 };
    });
  }

  async getGroup(id: GroupId): Promise<GroupRecord | undefined> {
    const row = (await this.read('SELECT id, epoch, last_seq FROM mls_groups WHERE id = $1', [id]))[0];
    return row ? toGroup(row) : undefined;
  }

  async groupDevices(id: GroupId): Promise<DeviceId[]> {
    return (await this.read(MEMBERS_SQL, [id])).map((r) => str(r, 'device_id') as DeviceId);
  }

  /** Current members (devices that are leaving still have a cursor but are not members). */
  private async members(c: PoolClient, id: GroupId): Promise<DeviceId[]> {
    return (await rows(c, MEMBERS_SQL, [id])).map((r) => str(r, 'device_id') as DeviceId);
  }

  async isMember(id: GroupId, deviceId: DeviceId): Promise<boolean> {
    return (await this.read('SELECT 1 FROM group_devices WHERE group_id = $1 AND device_id = $2 AND until_seq IS NULL', [id, deviceId])).length > 0;
  }

  async groupsOfDevice(deviceId: DeviceId): Promise<GroupRecord[]> {
    return (
      await this.read(
        `SELECT g.id, g.epoch, g.last_seq FROM group_devices d JOIN mls_groups g ON g.id = d.group_id
         WHERE d.device_id = $1 AND d.until_seq IS NULL ORDER BY g.id COLLATE "C"`,
        [deviceId],
      )
    ).map(toGroup);
  }

  async getGroupInfo(id: GroupId): Promise<Uint8Array | undefined> {
    const row = (await this.read('SELECT group_info FROM mls_groups WHERE id = $1', [id]))[0];
    if (!row || row['group_info'] === null) return undefined;
    return bytes(row, 'group_info');
  }

  /**
   * Locks the group row for the rest of the transaction: every append to one
   * group queues here, which is what makes seq gap-free and epochs linear
   * across processes. Returns the group and its members as of the lock.
   */
  private async lockGroup(c: PoolClient, id: GroupId, sender: DeviceId): Promise<{ group: GroupRecord; members: DeviceId[] }> {
    const row = (await rows(c, 'SELECT id, epoch, last_seq FROM mls_groups WHERE id = $1 FOR UPDATE', [id]))[0];
    if (!row) throw new StorageError('not_found', 'group not found');
    const members = await this.members(c, id);
    if (!members.includes(sender)) throw new StorageError('not_member', 'not a member of this group');
    return { group: toGroup(row), members };
  }

  private async insertMessage(
    c: PoolClient,
    groupId: GroupId,
    seq: number,
    k: 'application' | 'proposal' | 'commit',
    epoch: number,
    payload: Uint8Array,
    expiresAt: number,
  ): Promise<void> {
    await c.query('INSERT INTO group_messages (group_id, seq, kind, epoch, payload, expires_at) VALUES ($1, $2, $3, $4, $5, $6)', [
      groupId,
      seq,
      k,
      epoch,
      payload,
      expiresAt,
    ]);
  }

  /** The sender has seen its own message: move its cursor when nothing before it is outstanding. */
  private async advanceSender(c: PoolClient, groupId: GroupId, sender: DeviceId, seq: number): Promise<void> {
    await c.query('UPDATE group_devices SET acked_seq = $3 WHERE group_id = $1 AND device_id = $2 AND acked_seq = $3 - 1', [groupId, sender, seq]);
  }

  /**
   * Messages without attachments go out in batches, one round trip per
   * event-loop turn (`parley_append_batch`, migration 4); with attachments,
   * one round trip each (`parley_append_message`, migration 3).
   */
  appendMessage(input: AppendMessageInput): Promise<AppendResult> {
    return input.blobs.length === 0 ? this.appends.push(input) : this.appendOne(input);
  }

  private async appendBatch(inputs: AppendMessageInput[]): Promise<Array<{ ok: true; value: AppendResult } | { ok: false; error: unknown }>> {
    const client = await this.checkout();
    let discard = false;
    try {
      const res = await client.query<Row>({
        name: 'parley_append_batch',
        text: 'SELECT r_idx, r_seq, r_epoch, r_members, r_error, r_detail FROM parley_append_batch($1, $2, $3, $4, $5, $6, $7)',
        values: [
          inputs.map((_, i) => i),
          inputs.map((x) => x.groupId),
          inputs.map((x) => x.senderDevice),
          inputs.map((x) => x.kind),
          inputs.map((x) => x.epoch),
          inputs.map((x) => x.payload),
          inputs.map((x) => x.expiresAt),
        ],
      });
      const out: Array<{ ok: true; value: AppendResult } | { ok: false; error: unknown }> = [];
      for (const row of res.rows) {
        const i = num(row, 'r_idx');
        const input = inputs[i];
        if (!input) throw new Error('storage row: r_idx out of range');
        const code = row['r_error'];
        if (typeof code === 'string') {
          out[i] = { ok: false, error: storageErrorFor(code, typeof row['r_detail'] === 'string' ? row['r_detail'] : '') };
        } else {
          out[i] = { ok: true, value: { seq: num(row, 'r_seq'), epoch: num(row, 'r_epoch'), recipients: members(row).filter((d) => d !== input.senderDevice) } };
        }
      }
      return out;
    } catch (err) {
      discard = !(err instanceof DatabaseError);
      throw err;
    } finally {
      client.release(discard);
    }
  }

  /** One round trip: see `parley_append_message` in migration 3. */
  private async appendOne(input: AppendMessageInput): Promise<AppendResult> {
    const client = await this.checkout();
    let discard = false;
    try {
      const res = await client.query<Row>({
        name: 'parley_append_message',
        text: 'SELECT r_seq, r_epoch, r_members FROM parley_append_message($1, $2, $3, $4, $5, $6, $7, $8)',
        values: [input.groupId, input.senderDevice, input.kind, input.epoch, input.payload, [...new Set(input.blobs)], input.expiresAt, input.blobKeepUntil],
      });
      const row = res.rows[0];
      if (!row) throw new Error('storage: append returned nothing');
      return { seq: num(row, 'r_seq'), epoch: num(row, 'r_epoch'), recipients: members(row).filter((d) => d !== input.senderDevice) };
    } catch (err) {
      discard = !(err instanceof DatabaseError);
      throw mapAppendError(err);
    } finally {
      client.release(discard);
    }
  }

  appendCommit(input: AppendCommitInput): Promise<CommitResult> {
    return this.tx(async (c) => {
      const { group, members: before } = await this.lockGroup(c, input.groupId, input.senderDevice);
      if (input.epoch !== group.epoch) {
        throw new StorageError('epoch_conflict', `group is at epoch ${group.epoch}`, { epoch: group.epoch });
      }
      const beforeSet = new Set(before);
      const after = new Set(input.devices);
      if (!after.has(input.senderDevice)) throw new StorageError('invalid_membership', 'the committer must remain a member');
      const added = [...after].filter((d) => !beforeSet.has(d));
      if (added.length > 0) {
        // FOR SHARE holds off a revocation of an added device until its cursor and welcome are in.
        const active = new Set(
          (
            await rows(c, 'SELECT id FROM devices WHERE id = ANY($1::text[]) AND NOT revoked ORDER BY id COLLATE "C" FOR SHARE', [added])
          ).map((r) => str(r, 'id')),
        );
        for (const d of added) {
          if (!active.has(d)) throw new StorageError('invalid_membership', 'unknown or revoked device in member list', { device: d });
        }
      }
      const welcomeTo = [...new Set(input.welcome?.to ?? [])];
      for (const d of welcomeTo) {
        if (!after.has(d) || beforeSet.has(d)) throw new StorageError('invalid_membership', 'welcome must go to newly added devices');
      }
      const seq = group.lastSeq + 1;
      const epoch = group.epoch + 1;
      await c.query('UPDATE mls_groups SET last_seq = $1, epoch = $2, group_info = COALESCE($3::bytea, group_info) WHERE id = $4', [
        seq,
        epoch,
        input.groupInfo ?? null,
        input.groupId,
      ]);
      await this.insertMessage(c, input.groupId, seq, 'commit', group.epoch, input.commit, input.expiresAt);
      await this.advanceSender(c, input.groupId, input.senderDevice, seq);
      // Removed devices keep a cursor up to this commit so they learn they were removed.
      // Cursor rows are locked in (group, device) order, as revokeDevice locks them.
      const removed = before.filter((d) => !after.has(d));
      if (removed.length > 0) {
        await c.query(
          `UPDATE group_devices d SET until_seq = $2, leave_expires_at = $3 FROM (
             SELECT device_id FROM group_devices WHERE group_id = $1 AND device_id = ANY($4::text[])
             ORDER BY device_id COLLATE "C" FOR UPDATE) l
           WHERE d.group_id = $1 AND d.device_id = l.device_id`,
          [input.groupId, seq, input.expiresAt, removed],
        );
      }
      // Added devices start after this commit (they join from the Welcome); a device still
      // leaving from an earlier removal gets its cursor back, moved up to here.
      if (added.length > 0) {
        await c.query(
          `INSERT INTO group_devices (group_id, device_id, acked_seq, until_seq, leave_expires_at)
           SELECT $1, d, $2, NULL, NULL FROM unnest($3::text[]) AS d ORDER BY d COLLATE "C"
           ON CONFLICT (group_id, device_id) DO UPDATE SET acked_seq = EXCLUDED.acked_seq, until_seq = NULL, leave_expires_at = NULL`,
          [input.groupId, seq, added],
        );
      }
      if (input.welcome && welcomeTo.length > 0) {
        await c.query(
          `INSERT INTO welcomes (device_id, group_id, seq, epoch, welcome, group_info, expires_at)
           SELECT d, $2, $3, $4, $5, $6, $7 FROM unnest($1::text[]) AS d ORDER BY d COLLATE "C"
           ON CONFLICT (device_id, group_id) DO UPDATE SET seq = EXCLUDED.seq, epoch = EXCLUDED.epoch, welcome = EXCLUDED.welcome,
             group_info = EXCLUDED.group_info, expires_at = EXCLUDED.expires_at`,
          [welcomeTo, input.groupId, seq, epoch, input.welcome.data, input.groupInfo ?? null, input.expiresAt],
        );
      }
      const recipients = before.filter((d) => d !== input.senderDevice);
      if (recipients.length === 0) await this.trimGroups(c, [input.groupId]);
      return { seq, epoch, recipients, welcomeRecipients: input.welcome ? welcomeTo : [] };
    });
  }

  async pendingWelcomes(deviceId: DeviceId): Promise<StoredMessage[]> {
    const result = await this.read(
      'SELECT group_id, seq, epoch, welcome, group_info FROM welcomes WHERE device_id = $1 ORDER BY group_id COLLATE "C"',
      [deviceId],
    );
    return result.map((r) => ({
      groupId: str(r, 'group_id') as GroupId,
      seq: num(r, 'seq'),
      kind: 'welcome' as const,
      epoch: num(r, 'epoch'),
      parts: [bytes(r, 'welcome'), r['group_info'] === null ? new Uint8Array(0) : bytes(r, 'group_info')],
    }));
  }

  async pendingMessages(deviceId: DeviceId, after: BacklogCursor | undefined, limit: number): Promise<StoredMessage[]> {
    // Group ids compare bytewise (COLLATE "C"), the order SQLite uses and the one `after` pages by.
    const result = await this.read(
      `SELECT m.group_id, m.seq, m.kind, m.epoch, m.payload
       FROM group_devices d JOIN group_messages m ON m.group_id = d.group_id AND m.seq > d.acked_seq
       WHERE d.device_id = $1 AND (d.until_seq IS NULL OR m.seq <= d.until_seq)
         AND (m.group_id COLLATE "C" > $2 OR (m.group_id = $2 AND m.seq > $3))
       ORDER BY m.group_id COLLATE "C", m.seq LIMIT $4`,
      [deviceId, after?.groupId ?? '', after?.seq ?? 0, limit],
    );
    return result.map((r) => ({ groupId: str(r, 'group_id') as GroupId, seq: num(r, 'seq'), kind: kind(r), epoch: num(r, 'epoch'), parts: [bytes(r, 'payload')] }));
  }

  /** Batched per event-loop turn: see `parley_ack_batch` in migration 4. */
  ack(deviceId: DeviceId, groupId: GroupId, seq: number): Promise<void> {
    return this.acks.push({ deviceId, groupId, seq });
  }

  private async ackBatch(inputs: Array<{ deviceId: DeviceId; groupId: GroupId; seq: number }>): Promise<Array<{ ok: true; value: undefined }>> {
    const client = await this.checkout();
    let discard = false;
    try {
      await client.query({
        name: 'parley_ack_batch',
        text: 'SELECT parley_ack_batch($1, $2, $3)',
        values: [inputs.map((x) => x.groupId), inputs.map((x) => x.deviceId), inputs.map((x) => x.seq)],
      });
      return inputs.map(() => ({ ok: true as const, value: undefined }));
    } catch (err) {
      discard = !(err instanceof DatabaseError);
      throw err;
    } finally {
      client.release(discard);
    }
  }

  /**
   * Deletes what every cursor of these groups has passed; a group nobody reads
   * any more keeps nothing. Safe without locks: cursors only move forward and a
   * new one starts at the group's newest message, so the minimum read from this
   * statement's snapshot never exceeds what any cursor still needs.
   */
  private async trimGroups(c: PoolClient, groupIds: readonly GroupId[]): Promise<number> {
    if (groupIds.length === 0) return 0;
    return changes(
      c,
      `DELETE FROM group_messages m USING (
         SELECT g.id, (SELECT MIN(d.acked_seq) FROM group_devices d WHERE d.group_id = g.id) AS lo
         FROM (SELECT DISTINCT id FROM unnest($1::text[]) AS id) g) t
       WHERE m.group_id = t.id AND m.seq <= COALESCE(t.lo, 9223372036854775807)`,
      [[...groupIds]],
    );
  }

  trim(groupIds: readonly GroupId[]): Promise<number> {
    return this.tx((c) => this.trimGroups(c, groupIds));
  }

  /* ---------- blobs ---------- */

  putBlob(blob: BlobRecord): Promise<void> {
    return this.tx(async (c) => {
      await c.query(
        `INSERT INTO blobs (digest, size, keep_until) VALUES ($1, $2, $3)
         ON CONFLICT (digest) DO UPDATE SET keep_until = GREATEST(blobs.keep_until, EXCLUDED.keep_until)`,
        [blob.digest, blob.size, blob.keepUntil],
      );
    });
  }

  async getBlob(digest: BlobDigest): Promise<BlobRecord | undefined> {
    const row = (await this.read('SELECT digest, size, keep_until FROM blobs WHERE digest = $1', [digest]))[0];
    if (!row) return undefined;
    return { digest: str(row, 'digest') as BlobDigest, size: num(row, 'size'), keepUntil: num(row, 'keep_until') };
  }

  async collectableBlobs(now: number, limit: number): Promise<BlobDigest[]> {
    return (
      await this.read(
        `SELECT digest FROM blobs b WHERE keep_until <= $1
         AND NOT EXISTS (SELECT 1 FROM blob_refs r WHERE r.digest = b.digest) ORDER BY digest COLLATE "C" LIMIT $2`,
        [now, limit],
      )
    ).map((r) => str(r, 'digest') as BlobDigest);
  }

  deleteBlobs(digests: readonly BlobDigest[]): Promise<BlobDigest[]> {
    return this.tx(async (c) => {
      if (digests.length === 0) return [];
      const list = [...new Set(digests)];
      // Lock first, then check references in a later statement whose fresh snapshot
      // includes any message that referenced the blob while we waited.
      await c.query('SELECT digest FROM blobs WHERE digest = ANY($1::text[]) ORDER BY digest COLLATE "C" FOR UPDATE', [list]);
      const deleted = new Set(
        (
          await rows(
            c,
            `DELETE FROM blobs WHERE digest = ANY($1::text[])
             AND NOT EXISTS (SELECT 1 FROM blob_refs r WHERE r.digest = blobs.digest) RETURNING digest`,
            [list],
          )
        ).map((r) => str(r, 'digest')),
      );
      const out: BlobDigest[] = [];
      for (const d of digests) {
        if (deleted.delete(d)) out.push(d);
      }
      return out;
    });
  }

  sweep(now: number): Promise<SweepResult> {
    return this.tx(async (c) => {
      const messages = await changes(c, 'DELETE FROM group_messages WHERE expires_at <= $1', [now]);
      const welcomes = await changes(c, 'DELETE FROM welcomes WHERE expires_at <= $1', [now]);
      await c.query('DELETE FROM group_devices WHERE until_seq IS NOT NULL AND leave_expires_at <= $1', [now]);
      const sessions = await changes(c, 'DELETE FROM sessions WHERE expires_at <= $1', [now]);
      const keyPackages = await changes(c, 'DELETE FROM key_packages WHERE expires_at <= $1', [now]);
      return { messages, welcomes, sessions, keyPackages };
    });
  }
}
