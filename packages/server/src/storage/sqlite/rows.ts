import { rowMappers, type Row } from '../rows.js';

// Rows as better-sqlite3 returns them; every value is checked before it is used.
export { DEVICE_COLUMNS, str, type Row } from '../rows.js';

export function num(row: Row, key: string): number {
  const v = row[key];
  if (typeof v === 'bigint') return Number(v);
  if (typeof v !== 'number') throw new Error(`storage row: ${key} is not a number`);
  return v;
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

export const { optNum, kind, status, toUser, toDevice, toGroup } = rowMappers({ num, bytes });

export function isUniqueViolation(err: unknown): boolean {
  return err instanceof Error && 'code' in err && String((err as { code: unknown }).code).startsWith('SQLITE_CONSTRAINT');
}
