import type { DeviceId, GroupId, UserId } from '@parley/protocol';
import { StorageError, type DeviceRecord, type NewDevice, type NewSession, type PendingLinkRecord, type SessionRecord, type UserRecord } from '../storage.js';
import type { SqliteCore } from './core.js';
import { deleteProfileSync } from './profiles.js';
import { DEVICE_COLUMNS, isUniqueViolation, num, status, str, toDevice, toUser, type Row } from './rows.js';

/** Accounts, devices (pending, active, revoked), device links, sessions and sign-in challenges on SQLite. */
export class SqliteAccounts {
  constructor(
    private readonly core: SqliteCore,
    /** Takes a revoked device out of every group; returns the groups that list it. */
    private readonly dropDelivery: (deviceId: DeviceId) => GroupId[],
  ) {}

  private q(sql: string) {
    return this.core.q(sql);
  }

  createAccount(user: UserRecord, device: NewDevice | undefined, session: NewSession | undefined): Promise<void> {
    return this.core.writes.run(() => {
      try {
        this.q('INSERT INTO users (id, username, skeleton, password_hash, created_day) VALUES (?, ?, ?, ?, ?)').run(
          user.id,
          user.username,
          user.skeleton,
          user.passwordHash,
          user.createdDay,
        );
      } catch (err) {
        if (isUniqueViolation(err)) throw new StorageError('username_taken', 'username taken');
        throw err;
      }
      if (device) {
        this.insertDevice(user.id, device, user.createdDay, 'active');
        if (session) this.insertSession(user.id, device.id, session);
      }
    });
  }

  private insertDevice(userId: UserId, device: NewDevice, createdDay: string, deviceStatus: 'pending' | 'active'): void {
    try {
      // No name: the user's devices upload it encrypted (setDeviceName).
      this.q('INSERT INTO devices (id, user_id, name, signature_key, created_day, status) VALUES (?, ?, NULL, ?, ?, ?)').run(
        device.id,
        userId,
        device.signatureKey,
        createdDay,
        deviceStatus,
      );
    } catch (err) {
      if (isUniqueViolation(err)) throw new StorageError('device_exists', 'device exists');
      throw err;
    }
  }

  private insertSession(userId: UserId, deviceId: DeviceId, session: NewSession): void {
    this.q('INSERT INTO sessions (token_hash, user_id, device_id, expires_at) VALUES (?, ?, ?, ?)').run(session.tokenHash, userId, deviceId, session.expiresAt);
  }

  private requireUser(userId: UserId): void {
    if (this.q('SELECT 1 FROM users WHERE id = ?').get(userId) === undefined) throw new StorageError('not_found', 'user not found');
  }

  getUserByUsername(normalized: string): UserRecord | undefined {
    const row = this.q('SELECT * FROM users WHERE username = ?').get(normalized) as Row | undefined;
    return row ? toUser(row) : undefined;
  }

  getUserById(id: UserId): UserRecord | undefined {
    const row = this.q('SELECT * FROM users WHERE id = ?').get(id) as Row | undefined;
    return row ? toUser(row) : undefined;
  }

  skeletonTaken(skeleton: string): boolean {
    return this.q('SELECT 1 FROM users WHERE skeleton = ?').get(skeleton) !== undefined;
  }

  addDevice(userId: UserId, device: NewDevice, createdDay: string, session: NewSession): Promise<void> {
    return this.core.writes.run(() => {
      this.requireUser(userId);
      this.insertDevice(userId, device, createdDay, 'active');
      this.insertSession(userId, device.id, session);
    });
  }

  addPendingDevice(userId: UserId, device: NewDevice, createdDay: string, session: NewSession, link: { codeHash: Uint8Array; expiresAt: number }): Promise<void> {
    return this.core.writes.run(() => {
      this.requireUser(userId);
      this.insertDevice(userId, device, createdDay, 'pending');
      this.insertSession(userId, device.id, session);
      this.q('INSERT INTO device_links (device_id, user_id, code_hash, expires_at) VALUES (?, ?, ?, ?)').run(device.id, userId, link.codeHash, link.expiresAt);
    });
  }

  getPendingLink(userId: UserId, codeHash: Uint8Array, now: number): PendingLinkRecord | undefined {
    const row = this.q(
      `SELECT d.id, d.user_id, d.name, d.signature_key, d.created_day, d.status, d.revoked_at, d.approved_by, d.approval, l.expires_at AS link_expires_at
       FROM device_links l JOIN devices d ON d.id = l.device_id
       WHERE l.user_id = ? AND l.code_hash = ? AND l.expires_at > ? AND d.status = 'pending' AND d.user_id = l.user_id
       ORDER BY l.expires_at DESC LIMIT 1`,
    ).get(userId, codeHash, now) as Row | undefined;
    return row ? { device: toDevice(row), expiresAt: num(row, 'link_expires_at') } : undefined;
  }

  linkExpiry(deviceId: DeviceId, now: number): number | undefined {
    const row = this.q(
      `SELECT l.expires_at FROM device_links l JOIN devices d ON d.id = l.device_id
       WHERE l.device_id = ? AND l.expires_at > ? AND d.status = 'pending'`,
    ).get(deviceId, now) as Row | undefined;
    return row ? num(row, 'expires_at') : undefined;
  }

  approveDevice(deviceId: DeviceId, approvedBy: DeviceId, now: number, signature: Uint8Array): Promise<void> {
    return this.core.writes.run(() => {
      // Only an active device of the same user approves, and only while the link is live.
      const row = this.q(
        `SELECT 1 FROM devices d JOIN device_links l ON l.device_id = d.id JOIN devices a ON a.id = ? AND a.user_id = d.user_id AND a.status = 'active'
         WHERE d.id = ? AND d.status = 'pending' AND l.expires_at > ?`,
      ).get(approvedBy, deviceId, now);
      if (row === undefined) throw new StorageError('not_found', 'no pending device with a live link');
      this.q("UPDATE devices SET status = 'active', approved_by = ?, approval = ? WHERE id = ?").run(approvedBy, signature, deviceId);
      this.q('DELETE FROM device_links WHERE device_id = ?').run(deviceId);
    });
  }

  resetIdentity(userId: UserId, device: NewDevice, createdDay: string, session: NewSession, revokedAt: number): Promise<{ revoked: DeviceId[]; groups: GroupId[] }> {
    return this.core.writes.run(() => {
      this.requireUser(userId);
      const revoked = this.core.pluck("SELECT id FROM devices WHERE user_id = ? AND status <> 'revoked' ORDER BY rowid").all(userId) as DeviceId[];
      const groups = new Set<GroupId>();
      for (const d of revoked) for (const g of this.revokeSync(d, revokedAt)) groups.add(g);
      // Starting over is a new identity: the old profile (readable by whoever held its key) goes with the old devices.
      deleteProfileSync(this.core, userId, { capAt: revokedAt });
      this.insertDevice(userId, device, createdDay, 'active');
      this.insertSession(userId, device.id, session);
      return { revoked, groups: [...groups].sort() };
    });
  }

  deleteAccount(userId: UserId, revokedAt: number, hold: { nameHash: Uint8Array; until: number }): Promise<{ revoked: DeviceId[]; groups: GroupId[] }> {
    return this.core.writes.run(() => {
      if (this.q('SELECT 1 FROM users WHERE id = ? AND purge_at IS NULL').get(userId) === undefined) throw new StorageError('not_found', 'user not found');
      const revoked = this.core.pluck("SELECT id FROM devices WHERE user_id = ? AND status <> 'revoked' ORDER BY rowid").all(userId) as DeviceId[];
      const groups = new Set<GroupId>();
      for (const d of revoked) for (const g of this.revokeSync(d, revokedAt)) groups.add(g);
      // Devices revoked earlier may still hold sessions' leftovers: none by revokeSync, but names and packages go for all.
      this.q('UPDATE devices SET name = NULL, approval = NULL, approved_by = NULL WHERE user_id = ?').run(userId);
      this.q('DELETE FROM sessions WHERE user_id = ?').run(userId);
      this.q('DELETE FROM device_links WHERE user_id = ?').run(userId);
      this.q('DELETE FROM queue_charges WHERE user_id = ?').run(userId);
      this.q('DELETE FROM blob_usage WHERE user_id = ?').run(userId);
      deleteProfileSync(this.core, userId, { capAt: revokedAt });
      // The placeholder is no valid username or skeleton (they never hold '#'), and unique.
      this.q("UPDATE users SET username = '#' || id, skeleton = '#' || id, password_hash = '', purge_at = ? WHERE id = ?").run(hold.until, userId);
      this.q('INSERT INTO username_holds (name_hash, until) VALUES (?, ?) ON CONFLICT (name_hash) DO UPDATE SET until = MAX(until, excluded.until)').run(
        hold.nameHash,
        hold.until,
      );
      return { revoked, groups: [...groups].sort() };
    });
  }

  usernameHeld(nameHash: Uint8Array, now: number): boolean {
    return this.q('SELECT 1 FROM username_holds WHERE name_hash = ? AND until > ?').get(nameHash, now) !== undefined;
  }

  /** Deleted accounts past their hold: the user row and its revoked devices go; expired holds too. */
  purgeSync(now: number): number {
    const users = this.core.pluck('SELECT id FROM users WHERE purge_at IS NOT NULL AND purge_at <= ?').all(now) as UserId[];
    for (const u of users) {
      const devices = this.core.pluck('SELECT id FROM devices WHERE user_id = ?').all(u) as DeviceId[];
      // Revoked at deletion, so in no group's delivery any more; departures and Welcomes went with the revocation.
      for (const d of devices) this.dropDelivery(d);
      this.q('DELETE FROM key_packages WHERE device_id IN (SELECT id FROM devices WHERE user_id = ?)').run(u);
      this.q('DELETE FROM session_challenges WHERE device_id IN (SELECT id FROM devices WHERE user_id = ?)').run(u);
      this.q('DELETE FROM sessions WHERE user_id = ?').run(u);
      this.q('DELETE FROM push_subscriptions WHERE device_id IN (SELECT id FROM devices WHERE user_id = ?)').run(u);
      this.q('DELETE FROM devices WHERE user_id = ?').run(u);
      this.q('DELETE FROM users WHERE id = ?').run(u);
    }
    this.q('DELETE FROM username_holds WHERE until <= ?').run(now);
    return users.length;
  }

  addSession(userId: UserId, deviceId: DeviceId, session: NewSession): Promise<void> {
    return this.core.writes.run(() => {
      const row = this.q('SELECT status FROM devices WHERE id = ? AND user_id = ?').get(deviceId, userId) as Row | undefined;
      if (!row) throw new StorageError('not_found', 'device not found');
      const s = status(row);
      if (s === 'revoked') throw new StorageError('device_revoked', 'device revoked');
      if (s === 'pending') throw new StorageError('device_pending', 'device not approved yet');
      this.insertSession(userId, deviceId, session);
    });
  }

  setPassword(userId: UserId, passwordHash: string, signOut: 'none' | 'all' | { except: Uint8Array }): Promise<void> {
    return this.core.writes.run(() => {
      if (this.q('UPDATE users SET password_hash = ? WHERE id = ?').run(passwordHash, userId).changes === 0) {
        throw new StorageError('not_found', 'user not found');
      }
      if (signOut === 'all') this.q('DELETE FROM sessions WHERE user_id = ?').run(userId);
      else if (signOut !== 'none') this.q('DELETE FROM sessions WHERE user_id = ? AND token_hash <> ?').run(userId, signOut.except);
    });
  }

  putChallenge(challengeHash: Uint8Array, deviceId: DeviceId, expiresAt: number): Promise<void> {
    return this.core.writes.run(() => {
      this.q('INSERT INTO session_challenges (challenge_hash, device_id, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING').run(challengeHash, deviceId, expiresAt);
    });
  }

  takeChallenge(challengeHash: Uint8Array, deviceId: DeviceId, now: number): Promise<boolean> {
    return this.core.writes.run(() => {
      const row = this.q('DELETE FROM session_challenges WHERE challenge_hash = ? RETURNING device_id, expires_at').get(challengeHash) as Row | undefined;
      return row !== undefined && str(row, 'device_id') === deviceId && num(row, 'expires_at') > now;
    });
  }

  getDevice(id: DeviceId): DeviceRecord | undefined {
    const row = this.q(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE id = ?`).get(id) as Row | undefined;
    return row ? toDevice(row) : undefined;
  }

  listDevices(userId: UserId): DeviceRecord[] {
    return (this.q(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = ? ORDER BY rowid`).all(userId) as Row[]).map(toDevice);
  }

  setDeviceName(userId: UserId, deviceId: DeviceId, encryptedName: string): Promise<boolean> {
    return this.core.writes.run(() => this.q("UPDATE devices SET name = ? WHERE id = ? AND user_id = ? AND status <> 'revoked'").run(encryptedName, deviceId, userId).changes > 0);
  }

  revokeDevice(id: DeviceId, revokedAt: number): Promise<GroupId[]> {
    return this.core.writes.run(() => {
      if (this.q('SELECT 1 FROM devices WHERE id = ?').get(id) === undefined) throw new StorageError('not_found', 'device not found');
      return this.revokeSync(id, revokedAt);
    });
  }

  /**
   * Keeps the row and key (the directory lists revoked devices, so history
   * still verifies); a second revocation keeps the first time. A device that
   * is still PENDING was never anyone's device: it is deleted outright, so a
   * key someone registered with the password alone never enters the directory.
   */
  private revokeSync(id: DeviceId, revokedAt: number): GroupId[] {
    if (this.q("SELECT 1 FROM devices WHERE id = ? AND status = 'pending'").get(id) !== undefined) {
      this.q('DELETE FROM sessions WHERE device_id = ?').run(id);
      this.q('DELETE FROM device_links WHERE device_id = ?').run(id);
      this.q('DELETE FROM session_challenges WHERE device_id = ?').run(id);
      this.q('DELETE FROM push_subscriptions WHERE device_id = ?').run(id);
      this.q('DELETE FROM devices WHERE id = ?').run(id);
      return [];
    }
    this.q("UPDATE devices SET status = 'revoked', revoked_at = COALESCE(revoked_at, ?) WHERE id = ?").run(revokedAt, id);
    this.q('DELETE FROM sessions WHERE device_id = ?').run(id);
    this.q('DELETE FROM key_packages WHERE device_id = ?').run(id);
    this.q('DELETE FROM device_links WHERE device_id = ?').run(id);
    this.q('DELETE FROM push_subscriptions WHERE device_id = ?').run(id);
    this.q('DELETE FROM session_challenges WHERE device_id = ?').run(id);
    return this.dropDelivery(id);
  }

  getSession(tokenHash: Uint8Array, now: number): SessionRecord | undefined {
    const row = this.q(
      `SELECT s.user_id, s.device_id, s.expires_at, d.status FROM sessions s JOIN devices d ON d.id = s.device_id
       WHERE s.token_hash = ? AND s.expires_at > ? AND d.status <> 'revoked'`,
    ).get(tokenHash, now) as Row | undefined;
    if (!row) return undefined;
    const s = status(row);
    if (s === 'revoked') return undefined;
    return { userId: str(row, 'user_id') as UserId, deviceId: str(row, 'device_id') as DeviceId, expiresAt: num(row, 'expires_at'), deviceStatus: s };
  }

  deleteSession(tokenHash: Uint8Array): Promise<void> {
    return this.core.writes.run(() => {
      this.q('DELETE FROM sessions WHERE token_hash = ?').run(tokenHash);
    });
  }

  /** Expired sessions, challenges, and pending devices whose link expired (deleted, see revokeSync). */
  sweepSync(now: number, revokedAt: number): { sessions: number; pendingDevices: number; challenges: number; accounts: number } {
    const sessions = this.q('DELETE FROM sessions WHERE expires_at <= ?').run(now).changes;
    const challenges = this.q('DELETE FROM session_challenges WHERE expires_at <= ?').run(now).changes;
    const expired = this.core
      .pluck("SELECT l.device_id FROM device_links l JOIN devices d ON d.id = l.device_id WHERE l.expires_at <= ? AND d.status = 'pending'")
      .all(now) as DeviceId[];
    for (const d of expired) this.revokeSync(d, revokedAt);
    // A link outliving its device's pending state would be a bug; never keep one past expiry.
    this.q('DELETE FROM device_links WHERE expires_at <= ?').run(now);
    const accounts = this.purgeSync(now);
    return { sessions, pendingDevices: expired.length, challenges, accounts };
  }
}
