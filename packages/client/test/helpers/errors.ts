import assert from 'node:assert/strict';
import { ClientError } from '../../src/index.js';

/** For assert.rejects: the error is a ClientError with this code (a failed check says what came instead). */
export function isClientError(code: string): (err: unknown) => true {
  return (err: unknown) => {
    assert.ok(err instanceof ClientError, `expected a ClientError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  };
}
