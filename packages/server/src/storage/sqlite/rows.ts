import type { DeviceId, DeviceStatus, GroupId, MessageKind, UserId } from '@parley/protocol';
import type { DeviceRecord, GroupRecord, UserRecord } from '../storage.js';

/** Rows as better-sqlite3 returns them; every value is checked before it is used. */
export type Row = Record<string, unknown>;

export function str(row: Row, key: string): string {
  const v = row[key];
  if (typeof v !== 'string') throw new Error(`storage row: ${key} is not text`);
  return v;
}

export function num(row: Row, key: string): number {
  const v = row[key];
  if (typeof v === 'bigint') return Number(v);
  if (typeof v !== 'number') throw new Error(`storage row: ${key} is not a number`);
  return v;
}

export function optNum(row: Row, key: string): number | null {
  return row[key] === null ? null : num(row, key);
}

export function bytes(row: Row, key: string): Uint8Array {
  const v = row[key];
  if (!(v instanceof Uint8Array)) throw new Error(`storage row: ${key} is not a blob`);
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/** A value from a plucked statement (one column per row). */
export function plainNum(v: unknown): number {
  if (typeof v === 'bigint') return Number(v);
  if (typeof v !== 'number') throw new Error('storage row: not a number');
  return v;
}

const KINDS: readonly string[] = ['application', 'proposal', 'commit', 'welcome'];
export function kind(row: Row): MessageKind {
  const v = str(row, 'kind');
  if (!KINDS.includes(v)) throw new Error('storage row: unknown message kind');
  return v as MessageKind;
}

const STATUSES: readonly string[] = ['pending', 'active', 'revoked'];
export function status(row: Row): DeviceStatus {
  const v = str(row, 'status');
  if (!STATUSES.includes(v)) throw new Error('storage row: unknown device status');
  return v as DeviceStatus;
}

export function toUser(row: Row): UserRecord {
  return {
    id: str(row, 'id') as UserId,
    username: str(row, 'username'),
    skeleton: str(row, 'skeleton'),
    passwordHash: str(row, 'password_hash'),
    createdDay: str(row, 'created_day'),
  };
}

export const DEVICE_COLUMNS = 'id, user_id, name, signature_key, created_day, status, revoked_at';

export function toDevice(row: Row): DeviceRecord {
  const s = status(row);
  return {
    id: str(row, 'id') as DeviceId,
    userId: str(row, 'user_id') as UserId,
    name: str(row, 'name'),
    signatureKey: bytes(row, 'signature_key'),
    createdDay: str(row, 'created_day'),
    status: s,
    revoked: s === 'revoked',
    revokedAt: optNum(row, 'revoked_at'),
  };
}

export function toGroup(row: Row): GroupRecord {
  return { id: str(row, 'id') as GroupId, epoch: num(row, 'epoch'), lastSeq: num(row, 'last_seq') };
}

export function isUniqueViolation(err: unknown): boolean {
  return err instanceof Error && 'code' in err && String((err as { code: unknown }).code).startsWith('SQLITE_CONSTRAINT');
}
