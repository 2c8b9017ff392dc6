import { DatabaseError } from 'pg';
import type { PoolClient } from 'pg';
import type { DeviceId, GroupId, UserId } from '@parley/protocol';
import {
  StorageError,
  type AppendCommitInput,
  type AppendMessageInput,
  type AppendResult,
  type BacklogCursor,
  type CommitResult,
  type GroupRecord,
  type QueueQuota,
  type StoredMessage,
  type WriteObserver,
} from '../storage.js';
import { commitMembers, commitWelcome } from '../commit-membership.js';
import { Batcher } from './batcher.js';
import { rows, type PgCore } from './core.js';
import { bytes, isUniqueViolation, kind, num, str, textArray, toGroup, type Row } from './rows.js';

/** Our functions' SQLSTATEs (class PA, migrations 3 and 8) back to the interface's typed errors. */
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
    case 'PA005':
      return queueQuotaError();
    default:
      return undefined;
  }
}

function queueQuotaError(): StorageError {
  return new StorageError('quota_exceeded', 'too many undelivered bytes queued by this account', { quota: 'queued_bytes' });
}

function mapAppendError(err: unknown): unknown {
  if (!(err instanceof DatabaseError) || err.code === undefined) return err;
  return storageErrorFor(err.code, err.detail ?? '') ?? err;
}

/** Current members of a group: devices with a cursor that is not leaving. */
const MEMBERS_SQL = 'SELECT device_id FROM group_devices WHERE group_id = $1 AND until_seq IS NULL ORDER BY device_id COLLATE "C"';

/**
 * Groups, the message log, cursors and Welcomes on PostgreSQL. Every write to
 * a group's log, Welcomes, byte count or charges holds the group's row lock
 * first; cursors are locked in (group, device) order, then Welcome references.
 */
export class PgDelivery {
  private readonly appends = new Batcher<AppendMessageInput, AppendResult>((inputs) => this.appendBatch(inputs));
  private readonly acks = new Batcher<{ deviceId: DeviceId; groupId: GroupId; seq: number }, undefined>((inputs) => this.ackBatch(inputs));

  constructor(private readonly core: PgCore) {}

  /** Message appends and acknowledgements are the batched writes: both report to `observer`. */
  observeWrites(observer: WriteObserver | undefined): void {
    this.appends.observer = observer;
    this.acks.observer = observer;
  }

  createGroup(id: GroupId, creator: DeviceId): Promise<GroupRecord> {
    return this.core.tx(async (c) => {
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
    const row = (await this.core.read('SELECT id, epoch, last_seq FROM mls_groups WHERE id = $1', [id]))[0];
    return row ? toGroup(row) : undefined;
  }

  async groupDevices(id: GroupId): Promise<DeviceId[]> {
    return (await this.core.read(MEMBERS_SQL, [id])).map((r) => str(r, 'device_id') as DeviceId);
  }

  async isMember(id: GroupId, deviceId: DeviceId): Promise<boolean> {
    return (await this.core.read('SELECT 1 FROM group_devices WHERE group_id = $1 AND device_id = $2 AND until_seq IS NULL', [id, deviceId])).length > 0;
  }

  async groupsOfDevice(deviceId: DeviceId): Promise<GroupRecord[]> {
    return (
      await this.core.read(
        `SELECT g.id, g.epoch, g.last_seq FROM group_devices d JOIN mls_groups g ON g.id = d.group_id
         WHERE d.device_id = $1 AND d.until_seq IS NULL ORDER BY g.id COLLATE "C"`,
        [deviceId],
      )
    ).map(toGroup);
  }

  async getGroupInfo(id: GroupId): Promise<Uint8Array | undefined> {
    const row = (await this.core.read('SELECT group_info FROM mls_groups WHERE id = $1', [id]))[0];
    if (!row || row['group_info'] === null) return undefined;
    return bytes(row, 'group_info');
  }

  /**
   * Messages without attachments go out in batches, one round trip per
   * event-loop turn (`parley_append_batch`), the account's charge included;
   * with attachments, one round trip each (`parley_append_message`).
   */
  appendMessage(input: AppendMessageInput): Promise<AppendResult> {
    return input.blobs.length === 0 ? this.appends.push(input) : this.appendOne(input);
  }

  private async appendBatch(inputs: AppendMessageInput[]): Promise<Array<{ ok: true; value: AppendResult } | { ok: false; error: unknown }>> {
    const client = await this.core.checkout();
    let discard = false;
    try {
      const res = await client.query<Row>({
        name: 'parley_append_batch_q',
        text: 'SELECT r_idx, r_seq, r_epoch, r_members, r_error, r_detail FROM parley_append_batch($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)',
        values: [
          inputs.map((_, i) => i),
          inputs.map((x) => x.groupId),
          inputs.map((x) => x.senderDevice),
          inputs.map((x) => x.kind),
          inputs.map((x) => x.epoch),
          inputs.map((x) => x.payload),
          inputs.map((x) => x.expiresAt),
          inputs.map((x) => x.quota?.userId ?? null),
          inputs.map((x) => x.quota?.maxBytes ?? null),
          inputs.map((x) => x.ack ?? null),
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
          const members = textArray(row, 'r_members') as DeviceId[];
          out[i] = { ok: true, value: { seq: num(row, 'r_seq'), epoch: num(row, 'r_epoch'), recipients: members.filter((d) => d !== input.senderDevice) } };
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

  /**
   * One round trip: see `parley_append_message` in migration 8. A riding ack
   * goes first and is committed before the append starts (one more round
   * trip, for messages with attachments only), so it counts whatever becomes
   * of the message and the sender can be moved past it.
   */
  private async appendOne(input: AppendMessageInput): Promise<AppendResult> {
    if (input.ack !== undefined) await this.ack(input.senderDevice, input.groupId, input.ack);
    try {
      const res = await this.core.one({
        name: 'parley_append_message_q',
        text: 'SELECT r_seq, r_epoch, r_members FROM parley_append_message($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)',
        values: [
          input.groupId,
          input.senderDevice,
          input.kind,
          input.epoch,
          input.payload,
          [...new Set(input.blobs)],
          input.expiresAt,
          input.blobKeepUntil,
          input.quota?.userId ?? null,
          input.quota?.maxBytes ?? null,
        ],
      });
      const row = res.rows[0];
      if (!row) throw new Error('storage: append returned nothing');
      const members = textArray(row, 'r_members') as DeviceId[];
      return { seq: num(row, 'r_seq'), epoch: num(row, 'r_epoch'), recipients: members.filter((d) => d !== input.senderDevice) };
    } catch (err) {
      throw mapAppendError(err);
    }
  }

  /**
   * Locks the group row for the rest of the transaction: every append to one
   * group queues here, which is what makes seq gap-free and epochs linear
   * across processes. Returns the group and its members as of the lock.
   */
  private async lockGroup(c: PoolClient, id: GroupId, sender: DeviceId): Promise<{ group: GroupRecord; members: DeviceId[] }> {
    const row = (await rows(c, 'SELECT id, epoch, last_seq FROM mls_groups WHERE id = $1 FOR NO KEY UPDATE', [id]))[0];
    if (!row) throw new StorageError('not_found', 'group not found');
    const members = (await rows(c, MEMBERS_SQL, [id])).map((r) => str(r, 'device_id') as DeviceId);
    if (!members.includes(sender)) throw new StorageError('not_member', 'not a member of this group');
    return { group: toGroup(row), members };
  }

  /** Charges bytes to the account in the group (group row locked by the caller), or throws quota_exceeded. */
  private async charge(c: PoolClient, quota: QueueQuota | undefined, groupId: GroupId, size: number): Promise<void> {
    if (!quota) return;
    await c.query(
      `INSERT INTO queue_charges (user_id, group_id, bytes) VALUES ($1, $2, $3)
       ON CONFLICT (user_id, group_id) DO UPDATE SET bytes = queue_charges.bytes + EXCLUDED.bytes`,
      [quota.userId, groupId, size],
    );
    const held = (await rows(c, 'SELECT COALESCE(SUM(bytes), 0) AS n FROM queue_charges WHERE user_id = $1', [quota.userId]))[0];
    if (held && num(held, 'n') > quota.maxBytes) throw queueQuotaError();
  }

  appendCommit(input: AppendCommitInput): Promise<CommitResult> {
    return this.core.tx(async (c) => {
      const { group, members: before } = await this.lockGroup(c, input.groupId, input.senderDevice);
      if (input.epoch !== group.epoch) {
        throw new StorageError('epoch_conflict', `group is at epoch ${group.epoch}`, { epoch: group.epoch });
      }
      // Devices that left the group's delivery are still listed in its MLS membership.
      const departed = (await rows(c, 'SELECT device_id FROM group_departures WHERE group_id = $1', [input.groupId])).map((r) => str(r, 'device_id') as DeviceId);
      const { after, added } = commitMembers(input, before, departed);
      if (added.length > 0) {
        // FOR SHARE holds off a revocation of an added device until its cursor and welcome are in.
        const active = new Set(
          (await rows(c, "SELECT id FROM devices WHERE id = ANY($1::text[]) AND status = 'active' ORDER BY id COLLATE \"C\" FOR SHARE", [added])).map((r) =>
            str(r, 'id'),
          ),
        );
        for (const d of added) {
          if (!active.has(d)) throw new StorageError('invalid_membership', 'unknown, pending or revoked device in member list', { device: d });
        }
      }
      const { welcomeTo, welcome, groupInfo, stored, charged } = commitWelcome(input, added, new Set(before.filter((d) => after.has(d))));
      await this.charge(c, input.quota, input.groupId, charged);
      const seq = group.lastSeq + 1;
      const epoch = group.epoch + 1;
      await c.query('UPDATE mls_groups SET last_seq = $1, epoch = $2, group_info = COALESCE($3::bytea, group_info), queued_bytes = queued_bytes + $5 WHERE id = $4', [
        seq,
        epoch,
        groupInfo,
        input.groupId,
        stored,
      ]);
      await c.query('INSERT INTO group_messages (group_id, seq, kind, epoch, payload, expires_at) VALUES ($1, $2, $3, $4, $5, $6)', [
        input.groupId,
        seq,
        'commit',
        group.epoch,
        input.commit,
        input.expiresAt,
      ]);
      // The sender has seen its own commit when nothing before it is outstanding.
      await c.query('UPDATE group_devices SET acked_seq = $3 WHERE group_id = $1 AND device_id = $2 AND acked_seq = $3 - 1', [input.groupId, input.senderDevice, seq]);
      // Removed devices keep a cursor up to this commit so they learn they were removed.
      // Cursor rows are locked in (group, device) order, as revocations lock them.
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
      const undeparted = departed.filter((d) => !after.has(d));
      if (undeparted.length > 0) await c.query('DELETE FROM group_departures WHERE group_id = $1 AND device_id = ANY($2::text[])', [input.groupId, undeparted]);
      // Added devices start after this commit (they join from the Welcome); a device still
      // leaving from an earlier removal gets its cursor back, moved up to here.
      // A device re-added with a fresh leaf (it lost its state) starts there too: what came before it cannot read.
      const starting = [...new Set([...added, ...welcomeTo])];
      if (starting.length > 0) {
        await c.query(
          `INSERT INTO group_devices (group_id, device_id, acked_seq, until_seq, leave_expires_at)
           SELECT $1, d, $2, NULL, NULL FROM unnest($3::text[]) AS d ORDER BY d COLLATE "C"
           ON CONFLICT (group_id, device_id) DO UPDATE SET acked_seq = EXCLUDED.acked_seq, until_seq = NULL, leave_expires_at = NULL`,
          [input.groupId, seq, starting],
        );
      }
      if (welcome) {
        await c.query('INSERT INTO welcomes (group_id, seq, epoch, welcome, group_info, expires_at) VALUES ($1, $2, $3, $4, $5, $6)', [
          input.groupId,
          seq,
          epoch,
          welcome,
          groupInfo,
          input.expiresAt,
        ]);
        // A newer Welcome for the same group replaces an older one; the older is collected by trim.
        await c.query(
          `INSERT INTO welcome_recipients (device_id, group_id, seq)
           SELECT d, $2, $3 FROM unnest($1::text[]) AS d ORDER BY d COLLATE "C"
           ON CONFLICT (device_id, group_id) DO UPDATE SET seq = EXCLUDED.seq`,
          [welcomeTo, input.groupId, seq],
        );
      }
      const recipients = before.filter((d) => d !== input.senderDevice);
      if (recipients.length === 0) {
        await this.core.trimGroups(c, [input.groupId]);
      } else if (!welcome) {
        // Only a device joining from a Welcome asks for the GroupInfo: none waits, none is kept.
        await c.query('UPDATE mls_groups SET group_info = NULL WHERE id = $1 AND group_info IS NOT NULL AND NOT EXISTS (SELECT 1 FROM welcomes WHERE group_id = $1)', [input.groupId]);
      }
      return { seq, epoch, recipients, welcomeRecipients: welcome ? welcomeTo : [] };
    });
  }

  leaveGroup(groupId: GroupId, deviceId: DeviceId): Promise<void> {
    return this.core.tx(async (c) => {
      // Group, then cursor, then Welcome reference: the order commits take them in.
      if ((await rows(c, 'SELECT 1 FROM mls_groups WHERE id = $1 FOR NO KEY UPDATE', [groupId])).length === 0) throw new StorageError('not_member', 'not a member of this group');
      const row = (await rows(c, 'DELETE FROM group_devices WHERE group_id = $1 AND device_id = $2 RETURNING until_seq', [groupId, deviceId]))[0];
      if (!row) {
        // Leaving twice is not an error: delivery has stopped either way.
        if ((await rows(c, 'SELECT 1 FROM group_departures WHERE group_id = $1 AND device_id = $2', [groupId, deviceId])).length > 0) return;
        throw new StorageError('not_member', 'not a member of this group');
      }
      // A member stays listed (its MLS leaf is still there) until a commit drops it;
      // a device already removed by a commit only stops reading up to its removal.
      if (row['until_seq'] === null) await c.query('INSERT INTO group_departures (group_id, device_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [groupId, deviceId]);
      await c.query('DELETE FROM welcome_recipients WHERE device_id = $1 AND group_id = $2', [deviceId, groupId]);
      await this.core.trimGroups(c, [groupId]);
    });
  }

  async pendingWelcomes(deviceId: DeviceId): Promise<StoredMessage[]> {
    const result = await this.core.read(
      `SELECT w.group_id, w.seq, w.epoch, w.welcome, w.group_info FROM welcome_recipients r
       JOIN welcomes w ON w.group_id = r.group_id AND w.seq = r.seq
       WHERE r.device_id = $1 ORDER BY r.group_id COLLATE "C"`,
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
    const result = await this.core.read(
      `SELECT m.group_id, m.seq, m.kind, m.epoch, m.payload
       FROM group_devices d JOIN group_messages m ON m.group_id = d.group_id AND m.seq > d.acked_seq
       WHERE d.device_id = $1 AND (d.until_seq IS NULL OR m.seq <= d.until_seq)
         AND (m.group_id COLLATE "C" > $2 OR (m.group_id = $2 AND m.seq > $3))
       ORDER BY m.group_id COLLATE "C", m.seq LIMIT $4`,
      [deviceId, after?.groupId ?? '', after?.seq ?? 0, limit],
    );
    return result.map((r) => ({ groupId: str(r, 'group_id') as GroupId, seq: num(r, 'seq'), kind: kind(r), epoch: num(r, 'epoch'), parts: [bytes(r, 'payload')] }));
  }

  /** Batched per event-loop turn: see `parley_ack_batch` in migration 4 (`parley_ack` in migration 6). */
  ack(deviceId: DeviceId, groupId: GroupId, seq: number): Promise<void> {
    return this.acks.push({ deviceId, groupId, seq });
  }

  private async ackBatch(inputs: Array<{ deviceId: DeviceId; groupId: GroupId; seq: number }>): Promise<Array<{ ok: true; value: undefined }>> {
    // Acks are cumulative: one per cursor, the highest, so no row is updated twice in the batch
    // (a second update of a row the transaction already changed re-runs its foreign-key checks).
    const highest = new Map<string, { deviceId: DeviceId; groupId: GroupId; seq: number }>();
    for (const x of inputs) {
      const key = `${x.groupId} ${x.deviceId}`;
      const seen = highest.get(key);
      if (!seen || seen.seq < x.seq) highest.set(key, x);
    }
    const acks = [...highest.values()];
    await this.core.one({
      name: 'parley_ack_batch',
      text: 'SELECT parley_ack_batch($1, $2, $3)',
      values: [acks.map((x) => x.groupId), acks.map((x) => x.deviceId), acks.map((x) => x.seq)],
    });
    return inputs.map(() => ({ ok: true as const, value: undefined }));
  }

  trim(groupIds: readonly GroupId[]): Promise<number> {
    return this.core.trimGroups(undefined, groupIds);
  }

  /**
   * Retention, in several short transactions so that no more than 100 groups
   * are locked at once: each part is complete on its own.
   */
  async sweep(now: number): Promise<{ messages: number; welcomes: number }> {
    // Cursors before Welcome references, as acks take them. A group whose last cursor
    // this was is deleted by its trim (it is nobody's any more).
    const left = (await this.core.one('DELETE FROM group_devices WHERE until_seq IS NOT NULL AND leave_expires_at <= $1 RETURNING group_id', [now])).rows;
    const emptied = [...new Set(left.map((r) => str(r, 'group_id') as GroupId))].sort();
    for (let i = 0; i < emptied.length; i += 100) await this.core.trimGroups(undefined, emptied.slice(i, i + 100));
    const groups = (
      await this.core.read(
        `SELECT g FROM (SELECT group_id AS g FROM group_messages WHERE expires_at <= $1
                        UNION SELECT group_id FROM welcomes WHERE expires_at <= $1) t ORDER BY g COLLATE "C"`,
        [now],
      )
    ).map((r) => str(r, 'g'));
    let messages = 0;
    let welcomes = 0;
    for (let i = 0; i < groups.length; i += 100) {
      const row = (
        await this.core.read(
          'SELECT r_messages AS m, r_welcomes AS w FROM parley_expire_groups($1::text[], $2)',
          [groups.slice(i, i + 100), now],
        )
      )[0];
      if (row) {
        messages += num(row, 'm');
        welcomes += num(row, 'w');
      }
    }
    return { messages, welcomes };
  }

  async queuedBytes(userId: UserId): Promise<number> {
    const row = (await this.core.read('SELECT COALESCE(SUM(bytes), 0) AS n FROM queue_charges WHERE user_id = $1', [userId]))[0];
    return row ? num(row, 'n') : 0;
  }
}
