import type { Readable } from 'node:stream';
import type { BlobDigest } from '@parley/protocol';

/** Where encrypted attachment bytes live. Metadata (size, retention) is in Storage. */
export interface BlobStore {
  /**
   * Streams `body` in, hashing as it goes; keeps it only if its SHA-256 equals
   * `expected` and it fits in `maxBytes`. Nothing is left behind on failure.
   */
  put(expected: BlobDigest, body: Readable, maxBytes: number): Promise<{ size: number }>;
  /** A stream of the blob's bytes, or undefined when absent. */
  get(digest: BlobDigest): Promise<{ size: number; stream: Readable } | undefined>;
  delete(digest: BlobDigest): Promise<void>;
  /**
   * Coarsens what the store's own metadata reveals of when blobs came and went
   * (file change times: see FsBlobStore). Called by maintenance; returns how
   * many items it touched.
   */
  restampTimes?(): Promise<number>;
}

export class BlobTooLargeError extends Error {
  constructor() {
    super('blob too large');
    this.name = 'BlobTooLargeError';
  }
}

export class BlobDigestMismatchError extends Error {
  constructor() {
    super('blob digest mismatch');
    this.name = 'BlobDigestMismatchError';
  }
}
