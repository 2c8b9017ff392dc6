import type { DeviceId, GroupId, UserId } from '@parley/protocol';
import {
  StorageError,
  type AppendCommitInput,
  type AppendMessageInput,
  type AppendResult,
  type BacklogCursor,
  type CommitResult,
  type GroupRecord,
  type StoredMessage,
} from '../storage.js';
import { commitMembers, commitWelcome } from '../commit-membership.js';
import type { SqliteCore } from './core.js';
import { chargeQueue, releaseQueue } from './queue-bytes.js';
import { bytes, isUniqueViolation, kind, num, plainNum, str, toGroup, type Row } from './rows.js';

const MAX_SEQ = 9007199254740991;

/** Groups, the message log, cursors and Welcomes on SQLite. */
export class SqliteDelivery {
  constructor(private readonly core: SqliteCore) {}

  private q(sql: string) {
    return this.core.q(sql);
  }

  createGroup(id: GroupId, creator: DeviceId): Promise<GroupRecord> {
    return this.core.writes.run(() => {
      try {
        this.q('INSERT INTO mls_groups (id, epoch, last_seq) VALUES (?, 0, 0)').run(id);
      } catch (err) {
        if (isUniqueViolation(err)) throw new StorageError('group_exists', 'group exists');
        throw err;
      }
      this.q('INSERT INTO group_devices (group_id, device_id, acked_seq) VALUES (?, ?, 0)').run(id, creator);
      this.core.forgetMembers(id);
      return { id, epoch: 0, lastSeq: 0 };
    });
  }

  getGroup(id: GroupId): GroupRecord | undefined {
    const row = this.q('SELECT id, epoch, last_seq FROM mls_groups WHERE id = ?').get(id) as Row | undefined;
    return row ? toGroup(row) : undefined;
  }

  isMember(id: GroupId, deviceId: DeviceId): boolean {
    return this.q('SELECT 1 FROM group_devices WHERE group_id = ? AND device_id = ? AND until_seq IS NULL').get(id, deviceId) !== undefined;
  }

  groupsOfDevice(deviceId: DeviceId): GroupRecord[] {
    return (
      this.q(
        `SELECT g.id, g.epoch, g.last_seq FROM group_devices d JOIN mls_groups g ON g.id = d.group_id
         WHERE d.device_id = ? AND d.until_seq IS NULL ORDER BY g.id`,
      ).all(deviceId) as Row[]
    ).map(toGroup);
  }

  getGroupInfo(id: GroupId): Uint8Array | undefined {
    const row = this.q('SELECT group_info FROM mls_groups WHERE id = ?').get(id) as Row | undefined;
    if (!row || row['group_info'] === null) return undefined;
    return bytes(row, 'group_info');
  }

  private memberGroup(id: GroupId, sender: DeviceId): GroupRecord {
    const group = this.getGroup(id);
    if (!group) throw new StorageError('not_found', 'group not found');
    if (!this.isMember(id, sender)) throw new StorageError('not_member', 'not a member of this group');
    return group;
  }

  private insertMessage(groupId: GroupId, seq: number, k: 'application' | 'proposal' | 'commit', epoch: number, payload: Uint8Array, expiresAt: number): void {
    this.q('INSERT INTO group_messages (group_id, seq, kind, epoch, payload, expires_at) VALUES (?, ?, ?, ?, ?, ?)').run(groupId, seq, k, epoch, payload, expiresAt);
  }

  /** The sender has seen its own message: move its cursor when nothing before it is outstanding. */
  private advanceSender(groupId: GroupId, sender: DeviceId, seq: number): void {
    this.q('UPDATE group_devices SET acked_seq = ? WHERE group_id = ? AND device_id = ? AND acked_seq = ?').run(seq, groupId, sender, seq - 1);
  }

  appendMessage(input: AppendMessageInput): Promise<AppendResult> {
    // The riding ack is a write of its own queued just before the append: the same
    // transaction when both succeed, and kept (its own savepoint) when the append is refused.
    const acked = input.ack === undefined ? undefined : this.ack(input.senderDevice, input.groupId, input.ack);
    const appended = this.append(input);
    if (acked === undefined) return appended;
    // The message's outcome is the answer; an ack that failed alone is repeated by the next one (acks are cumulative).
    acked.catch(() => undefined);
    return appended;
  }

  private append(input: AppendMessageInput): Promise<AppendResult> {
    return this.core.writes.run(() => {
      // Taking the next seq (and counting the bytes) first saves a read; a refusal below rolls it back with the rest.
      const row = this.q('UPDATE mls_groups SET last_seq = last_seq + 1, queued_bytes = queued_bytes + ? WHERE id = ? RETURNING epoch, last_seq').get(
        input.payload.byteLength,
        input.groupId,
      ) as Row | undefined;
      if (!row) throw new StorageError('not_found', 'group not found');
      const epoch = num(row, 'epoch');
      const seq = num(row, 'last_seq');
      const members = this.core.cachedMembers(input.groupId);
      if (!members.set.has(input.senderDevice)) throw new StorageError('not_member', 'not a member of this group');
      const stale = input.kind === 'proposal' ? input.epoch !== epoch : input.epoch > epoch;
      if (stale) throw new StorageError('epoch_conflict', `group is at epoch ${epoch}`, { epoch });
      const blobCheck = this.q('SELECT 1 FROM blobs WHERE digest = ?');
      for (const d of input.blobs) {
        if (blobCheck.get(d) === undefined) throw new StorageError('not_found', 'referenced blob not found', { blob: d });
      }
      chargeQueue(this.core, input.quota, input.groupId, input.payload.byteLength);
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
    return this.core.writes.run(() => {
      const group = this.memberGroup(input.groupId, input.senderDevice);
      if (input.epoch !== group.epoch) {
        throw new StorageError('epoch_conflict', `group is at epoch ${group.epoch}`, { epoch: group.epoch });
      }
      const before = this.core.groupDevicesSync(input.groupId);
      // Devices that left the group's delivery are still listed in its MLS membership.
      const departed = (this.q('SELECT device_id FROM group_departures WHERE group_id = ?').all(input.groupId) as Row[]).map((r) => str(r, 'device_id') as DeviceId);
      const { after, added } = commitMembers(input, before, departed);
      const active = this.q("SELECT 1 FROM devices WHERE id = ? AND status = 'active'");
      for (const d of added) {
        if (active.get(d) === undefined) throw new StorageError('invalid_membership', 'unknown, pending or revoked device in member list', { device: d });
      }
      const { welcomeTo, welcome, groupInfo, stored, charged } = commitWelcome(input, added, new Set(before.filter((d) => after.has(d))));
      chargeQueue(this.core, input.quota, input.groupId, charged);
      const seq = group.lastSeq + 1;
      const epoch = group.epoch + 1;
      this.q('UPDATE mls_groups SET last_seq = ?, epoch = ?, group_info = COALESCE(?, group_info), queued_bytes = queued_bytes + ? WHERE id = ?').run(
        seq,
        epoch,
        groupInfo,
        stored,
        input.groupId,
      );
      this.insertMessage(input.groupId, seq, 'commit', group.epoch, input.commit, input.expiresAt);
      this.advanceSender(input.groupId, input.senderDevice, seq);
      // Removed devices keep a cursor up to this commit so they learn they were removed.
      const leave = this.q('UPDATE group_devices SET until_seq = ?, leave_expires_at = ? WHERE group_id = ? AND device_id = ?');
      for (const d of before) if (!after.has(d)) leave.run(seq, input.expiresAt, input.groupId, d);
      const undepart = this.q('DELETE FROM group_departures WHERE group_id = ? AND device_id = ?');
      for (const d of departed) if (!after.has(d)) undepart.run(input.groupId, d);
      // Added devices start after this commit (they join from the Welcome).
      const join = this.q(
        `INSERT INTO group_devices (group_id, device_id, acked_seq, until_seq, leave_expires_at) VALUES (?, ?, ?, NULL, NULL)
         ON CONFLICT (group_id, device_id) DO UPDATE SET acked_seq = excluded.acked_seq, until_seq = NULL, leave_expires_at = NULL`,
      );
      // A device re-added with a fresh leaf (it lost its state) starts there too: what came before it cannot read.
      for (const d of new Set([...added, ...welcomeTo])) join.run(input.groupId, d, seq);
      if (welcome) {
        this.q('INSERT INTO welcomes (group_id, seq, epoch, welcome, group_info, expires_at) VALUES (?, ?, ?, ?, ?, ?)').run(
          input.groupId,
          seq,
          epoch,
          welcome,
          groupInfo,
          input.expiresAt,
        );
        // A newer Welcome for the same group replaces an older one; the older is collected by trim.
        const to = this.q('INSERT OR REPLACE INTO welcome_recipients (device_id, group_id, seq) VALUES (?, ?, ?)');
        const pending = this.core.pendingWelcomeSeqs();
        for (const d of welcomeTo) {
          to.run(d, input.groupId, seq);
          pending.set(`${d} ${input.groupId}`, seq);
        }
      }
      this.core.forgetMembers(input.groupId);
      const recipients = before.filter((d) => d !== input.senderDevice);
      if (recipients.length === 0) this.trimSync(input.groupId);
      else if (!welcome) this.dropUnneededGroupInfo(input.groupId);
      return { seq, epoch, recipients, welcomeRecipients: welcome ? welcomeTo : [] };
    });
  }

  leaveGroup(groupId: GroupId, deviceId: DeviceId): Promise<void> {
    return this.core.writes.run(() => {
      const row = this.q('DELETE FROM group_devices WHERE group_id = ? AND device_id = ? RETURNING until_seq').get(groupId, deviceId) as Row | undefined;
      if (!row) {
        // Leaving twice is not an error: delivery has stopped either way.
        if (this.q('SELECT 1 FROM group_departures WHERE group_id = ? AND device_id = ?').get(groupId, deviceId) !== undefined) return;
        throw new StorageError('not_member', 'not a member of this group');
      }
      // A member stays listed (its MLS leaf is still there) until a commit drops it;
      // a device already removed by a commit only stops reading up to its removal.
      if (row['until_seq'] === null) this.q('INSERT OR IGNORE INTO group_departures (group_id, device_id) VALUES (?, ?)').run(groupId, deviceId);
      if (this.q('DELETE FROM welcome_recipients WHERE device_id = ? AND group_id = ?').run(deviceId, groupId).changes > 0) {
        this.core.pendingWelcomeSeqs().delete(`${deviceId} ${groupId}`);
      }
      this.core.forgetMembers(groupId);
      this.trimSync(groupId);
    });
  }

  /**
   * Removes a device (being revoked) from every group: cursors, Welcomes and
   * departures, then trims what it held back. Returns the groups whose MLS
   * membership still lists it (members and departed), in id order.
   */
  dropDeviceSync(deviceId: DeviceId): GroupId[] {
    const cursors = this.q('DELETE FROM group_devices WHERE device_id = ? RETURNING group_id, until_seq').all(deviceId) as Row[];
    const welcomed = this.core.pluck('DELETE FROM welcome_recipients WHERE device_id = ? RETURNING group_id').all(deviceId) as string[];
    const departed = this.core.pluck('DELETE FROM group_departures WHERE device_id = ? RETURNING group_id').all(deviceId) as string[];
    this.core.forgetMembers();
    if (welcomed.length > 0) this.core.forgetWelcomes();
    const touched = new Set<string>([...cursors.map((r) => str(r, 'group_id')), ...welcomed]);
    for (const g of [...touched].sort()) this.trimSync(g as GroupId);
    const listed = new Set<string>([...cursors.filter((r) => r['until_seq'] === null).map((r) => str(r, 'group_id')), ...departed]);
    return [...listed].sort() as GroupId[];
  }

  pendingWelcomes(deviceId: DeviceId): StoredMessage[] {
    const rows = this.q(
      `SELECT w.group_id, w.seq, w.epoch, w.welcome, w.group_info FROM welcome_recipients r
       JOIN welcomes w ON w.group_id = r.group_id AND w.seq = r.seq
       WHERE r.device_id = ? ORDER BY r.group_id`,
    ).all(deviceId) as Row[];
    return rows.map((r) => ({
      groupId: str(r, 'group_id') as GroupId,
      seq: num(r, 'seq'),
      kind: 'welcome' as const,
      epoch: num(r, 'epoch'),
      parts: [bytes(r, 'welcome'), r['group_info'] === null ? new Uint8Array(0) : bytes(r, 'group_info')],
    }));
  }

  pendingMessages(deviceId: DeviceId, after: BacklogCursor | undefined, limit: number): StoredMessage[] {
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
    return this.core.writes.run(() => {
      const moved = this.q('UPDATE group_devices SET acked_seq = ? WHERE group_id = ? AND device_id = ? AND acked_seq < ? RETURNING until_seq').get(seq, groupId, deviceId, seq) as Row | undefined;
      // A removed device that has now read up to its removal needs no cursor any more.
      const until = moved?.['until_seq'];
      if (typeof until === 'number' && seq >= until) this.q('DELETE FROM group_devices WHERE group_id = ? AND device_id = ?').run(groupId, deviceId);
      const pending = this.core.pendingWelcomeSeqs();
      const key = `${deviceId} ${groupId}`;
      const welcomeSeq = pending.get(key);
      if (welcomeSeq !== undefined && welcomeSeq <= seq) {
        // The Welcome itself goes with the next trim of the group once nobody else waits for it.
        this.q('DELETE FROM welcome_recipients WHERE device_id = ? AND group_id = ? AND seq <= ?').run(deviceId, groupId, seq);
        pending.delete(key);
      }
    });
  }

  /**
   * Only a device joining from a Welcome asks for the group's GroupInfo
   * (members hold the tree; external joins are not supported): when no Welcome
   * of the group waits, it is not kept.
   */
  private dropUnneededGroupInfo(groupId: GroupId): void {
    this.q('UPDATE mls_groups SET group_info = NULL WHERE id = ? AND group_info IS NOT NULL AND NOT EXISTS (SELECT 1 FROM welcomes WHERE group_id = ?)').run(groupId, groupId);
  }

  /**
   * A group without any cursor (every member left or was revoked, every
   * removed device read its removal) is nobody's: it goes with everything it
   * holds (blob references go with its messages).
   */
  private deleteGroupSync(groupId: GroupId): void {
    if (this.q('DELETE FROM welcome_recipients WHERE group_id = ?').run(groupId).changes > 0) this.core.forgetWelcomes();
    this.q('DELETE FROM welcomes WHERE group_id = ?').run(groupId);
    this.q('DELETE FROM group_messages WHERE group_id = ?').run(groupId);
    this.q('DELETE FROM group_departures WHERE group_id = ?').run(groupId);
    for (const u of this.core.pluck('DELETE FROM queue_charges WHERE group_id = ? RETURNING user_id').all(groupId)) this.core.queueTotals.delete(u as UserId);
    this.q('DELETE FROM mls_groups WHERE id = ?').run(groupId);
    this.core.forgetMembers(groupId);
  }

  /**
   * Deletes what every cursor has passed and Welcomes nobody waits for, and
   * scales the group's charges; deletes the group itself when nobody reads it
   * any more, and its GroupInfo when no Welcome waits.
   */
  trimSync(groupId: GroupId): number {
    if (this.q('SELECT 1 FROM mls_groups WHERE id = ?').get(groupId) === undefined) return 0;
    // Counting first and deleting the range after costs about half the CPU of DELETE … RETURNING on a large trim.
    const upTo = plainNum(this.core.pluck(`SELECT COALESCE(MIN(acked_seq), ${MAX_SEQ}) FROM group_devices WHERE group_id = ?`).get(groupId));
    const gone = this.q('SELECT COUNT(*) AS n, COALESCE(SUM(length(payload)), 0) AS b FROM group_messages WHERE group_id = ? AND seq <= ?').get(groupId, upTo) as Row;
    const count = num(gone, 'n');
    if (count > 0) this.q('DELETE FROM group_messages WHERE group_id = ? AND seq <= ?').run(groupId, upTo);
    const welcomes = this.core
      .pluck(
        `DELETE FROM welcomes WHERE group_id = ?
         AND NOT EXISTS (SELECT 1 FROM welcome_recipients r WHERE r.group_id = welcomes.group_id AND r.seq = welcomes.seq)
         RETURNING length(welcome) + COALESCE(length(group_info), 0)`,
      )
      .all(groupId) as unknown[];
    let removed = num(gone, 'b');
    for (const n of welcomes) removed += plainNum(n);
    releaseQueue(this.core, groupId, removed);
    if (this.q('SELECT 1 FROM group_devices WHERE group_id = ? LIMIT 1').get(groupId) === undefined) this.deleteGroupSync(groupId);
    else this.dropUnneededGroupInfo(groupId);
    return count;
  }

  trim(groupIds: readonly GroupId[]): Promise<number> {
    return this.core.writes.run(() => groupIds.reduce((n, g) => n + this.trimSync(g), 0));
  }

  /** Retention: expired messages, Welcomes and cursors of removed devices (a group whose last cursor that was goes too). */
  sweepSync(now: number): { messages: number; welcomes: number } {
    const left = this.core.pluck('DELETE FROM group_devices WHERE until_seq IS NOT NULL AND leave_expires_at <= ? RETURNING group_id').all(now) as string[];
    for (const g of new Set(left)) this.trimSync(g as GroupId);
    const removed = new Map<GroupId, number>();
    const add = (rows: Row[]): number => {
      for (const r of rows) {
        const g = str(r, 'group_id') as GroupId;
        removed.set(g, (removed.get(g) ?? 0) + num(r, 'n'));
      }
      return rows.length;
    };
    const expired = this.q('SELECT group_id, SUM(length(payload)) AS n FROM group_messages WHERE expires_at <= ? GROUP BY group_id').all(now) as Row[];
    add(expired);
    const messages = expired.length > 0 ? this.q('DELETE FROM group_messages WHERE expires_at <= ?').run(now).changes : 0;
    const welcomes = add(
      this.q('DELETE FROM welcomes WHERE expires_at <= ? RETURNING group_id, length(welcome) + COALESCE(length(group_info), 0) AS n').all(now) as Row[],
    );
    if (welcomes > 0) this.core.forgetWelcomes();
    for (const [g, n] of removed) releaseQueue(this.core, g, n);
    return { messages, welcomes };
  }
}
