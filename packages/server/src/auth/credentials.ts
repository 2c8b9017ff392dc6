import { createHash, randomBytes } from 'node:crypto';
import argon2 from 'argon2';
import { ParleyError } from '@parley/protocol';

export interface Argon2Params {
  /** KiB. OWASP's minimum for argon2id is 19 MiB (19,456) with timeCost 2 and parallelism 1. */
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/**
 * How many argon2 computations (hashes and verifications) run at once, and how
 * many may wait for one. Each holds `memoryCost` (19 MiB by default) while it
 * runs, on a thread of libuv's pool — the pool (4 threads unless
 * UV_THREADPOOL_SIZE says otherwise) also serves file reads and writes, so
 * argon2 must never occupy all of it. Two at a time bounds argon2's memory to
 * 2 × 19 MiB and still checks 10–20 passwords per second on two cores
 * (about 60 ms each); a burst beyond the queue is refused with `overloaded` (503, retryable)
 * instead of queueing without end. The per-username and per-address rate limits
 * keep ordinary traffic far below this.
 *
 * One gate per process, not per AppContext: the thread pool and the memory it
 * protects belong to the process, whatever number of servers a test runs in it.
 */
export const ARGON2_CONCURRENCY = 2;
export const ARGON2_MAX_WAITING = 64;

/** A counting semaphore with a bounded queue of waiters. */
export class WorkGate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly concurrency: number,
    private readonly maxWaiting: number,
  ) {}

  /** Runs `task` when a slot is free; throws `overloaded` at once when the queue is full. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.maxWaiting) throw new ParleyError('overloaded', 'the server is busy checking passwords; retry in a moment');
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await task();
    } finally {
      // Hand the slot straight to the next waiter (running stays the same), or free it.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  /** Computations running and waiting (for tests and metrics). */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }
}

export const argon2Gate = new WorkGate(ARGON2_CONCURRENCY, ARGON2_MAX_WAITING);

export function hashPassword(password: string, params: Argon2Params): Promise<string> {
  return argon2Gate.run(() => argon2.hash(password, { type: argon2.argon2id, ...params }));
}

/** False for a wrong password or an unreadable hash; throws only `overloaded` (see argon2Gate). */
export function verifyPassword(hash: string, password: string): Promise<boolean> {
  return argon2Gate.run(async () => {
    try {
      return await argon2.verify(hash, password);
    } catch {
      return false;
    }
  });
}

/** Bearer tokens: 256 random bits, shown to the client once; only the SHA-256 is stored. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

export function tokenHash(token: string): Uint8Array {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** 128-bit random ids, base64url (22 characters). */
export function newId(): string {
  return randomBytes(16).toString('base64url');
}
