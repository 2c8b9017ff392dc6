import { DatabaseError } from 'pg';
import { rowMappers, type Row } from '../rows.js';

// Rows as pg returns them; every value is checked before it is used.
export { DEVICE_COLUMNS, str, type Row } from '../rows.js';

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

// A copy, not a view: pg may decode small values into Node's shared buffer
// pool, and a view's `.buffer` would expose whatever else lives there.
export function bytes(row: Row, key: string): Uint8Array {
  const v = row[key];
  if (!(v instanceof Uint8Array)) throw new Error(`storage row: ${key} is not bytea`);
  return new Uint8Array(v);
}

export const { optNum, kind, status, toUser, toDevice, toGroup } = rowMappers({ num, bytes });

export function textArray(row: Row, key: string): string[] {
  const m = row[key];
  if (!Array.isArray(m) || !m.every((x): x is string => typeof x === 'string')) throw new Error(`storage row: ${key} is not text[]`);
  return m;
}

export function isUniqueViolation(err: unknown): boolean {
  return err instanceof DatabaseError && err.code === '23505';
}
