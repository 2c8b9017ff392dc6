import type { DeviceId, DeviceStatus, GroupId, MessageKind, UserId } from '@parley/protocol';
import type { DeviceRecord, GroupRecord, UserRecord } from './storage.js';

/** Rows as a driver returns them; every value is checked before it is used. */
export type Row = Record<string, unknown>;

/** How an adapter reads the values whose representation depends on its driver. */
export interface RowReaders {
  num(row: Row, key: string): number;
  bytes(row: Row, key: string): Uint8Array;
}

/** The record mappers every adapter shares, built on its own readers. */
export interface RowMappers {
  optNum(row: Row, key: string): number | null;
  kind(row: Row): MessageKind;
  status(row: Row): DeviceStatus;
  toUser(row: Row): UserRecord;
  toDevice(row: Row): DeviceRecord;
  toGroup(row: Row): GroupRecord;
}

export const DEVICE_COLUMNS = 'id, user_id, name, signature_key, created_day, status, revoked_at, approved_by, approval';

export function str(row: Row, key: string): string {
  const v = row[key];
  if (typeof v !== 'string') throw new Error(`storage row: ${key} is not text`);
  return v;
}

const KINDS: readonly string[] = ['application', 'proposal', 'commit', 'welcome'];
function kind(row: Row): MessageKind {
  const v = str(row, 'kind');
  if (!KINDS.includes(v)) throw new Error('storage row: unknown message kind');
  return v as MessageKind;
}

const STATUSES: readonly string[] = ['pending', 'active', 'revoked'];
function status(row: Row): DeviceStatus {
  const v = str(row, 'status');
  if (!STATUSES.includes(v)) throw new Error('storage row: unknown device status');
  return v as DeviceStatus;
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

export function rowMappers({ num, bytes }: RowReaders): RowMappers {
  const optNum = (row: Row, key: string): number | null => (row[key] === null ? null : num(row, key));
  return {
    optNum,
    kind,
    status,
    toUser,
    toDevice(row) {
      const s = status(row);
      return {
        id: str(row, 'id') as DeviceId,
        userId: str(row, 'user_id') as UserId,
        name: row['name'] === null ? null : str(row, 'name'),
        signatureKey: bytes(row, 'signature_key'),
        createdDay: str(row, 'created_day'),
        status: s,
        revoked: s === 'revoked',
        revokedAt: optNum(row, 'revoked_at'),
        approvedBy: row['approved_by'] === null ? null : (str(row, 'approved_by') as DeviceId),
        approval: row['approval'] === null ? null : bytes(row, 'approval'),
      };
    },
    toGroup(row) {
      return { id: str(row, 'id') as GroupId, epoch: num(row, 'epoch'), lastSeq: num(row, 'last_seq') };
    },
  };
}
