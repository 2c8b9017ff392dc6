import { DatabaseError } from 'pg';
import type { DeviceId, DeviceStatus, GroupId, MessageKind, UserId } from '@parley/protocol';
import type { DeviceRecord, GroupRecord, UserRecord } from '../storage.js';

/** Rows as pg returns them; every value is checked before it is used. */
export type Row = Record<string, unknown>;

export function str(row: Row, key: string): string {
  const v = row[key];
  if (typeof v !== 'string') throw new Error(`storage row: ${key} is not text`);
  return v;
}

// BIGINT, SUM and COUNT(*) arrive as decimal strings: pg will not guess at precision.
export function num(row: Row, key: string): number {
  const v = row[key];
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) {
    const n = Number(v);
    if (Number.isSafeInteger(n)) return n;
  }
  throw new Error(`storage row: ${key} is not a safe integer`);
}

export function optNum(row: Row, key: string): number | null {
  return row[key] === null ? null : num(row, key);
}

// A copy, not a view: pg may decode small values into Node's shared buffer
// pool, and a view's `.buffer` would expose whatever else lives there.
export function bytes(row: Row, key: string): Uint8Array {
  const v = row[key];
  if (!(v instanceof Uint8Array)) throw new Error(`storage row: ${key} is not bytea`);
  return new Uint8Array(v);
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

export function textArray(row: Row, key: string): string[] {
  const m = row[key];
  if (!Array.isArray(m) || !m.every((x): x is string => typeof x === 'string')) throw new Error(`storage row: ${key} is not text[]`);
  return m;
}

export function isUniqueViolation(err: unknown): boolean {
  return err instanceof DatabaseError && err.code === '23505';
}
