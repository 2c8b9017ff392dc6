import { decodeServerFrame, encodeFrame, isErrorCode, PROTOCOL_VERSIONS, WS_CLOSE } from '@parley/protocol';
import type { ErrorFrame, GroupId, MsgFrame, ReadyFrame, RejoinServerFrame, ServerFrame, TypingServerFrame, UserId } from '@parley/protocol';
import { ClientError } from '../errors.js';
import type { WireSocket, WireSocketFactory } from './socket.js';

export type ConnectionState = 'connecting' | 'online' | 'offline' | 'closed';

type OkFrame = Extract<ServerFrame, { t: 'ok' }>;

export interface ConnectionHandlers {
  onReady(frame: ReadyFrame): void;
  /** Every `msg` frame, in arrival order. */
  onMessage(frame: MsgFrame, payload: Uint8Array): void;
  onSynced(): void;
  onKeyPackagesLow(available: number): void;
  /** A device set changed: this user's (no userId), or another user's who shares a group with this device. */
  onDevicesChanged(userId?: UserId): void;
  onState(state: ConnectionState, detail?: { code?: number; reason?: string; attempt?: number }): void;
  /** The server refused this device for good (signed out, revoked, no common version): no more reconnects. */
  onFatal(error: ClientError): void;
  /** An error frame without a request id (e.g. a refused ack). */
  onServerError(frame: ErrorFrame): void;
  /** An ephemeral typing frame from another member's device (dropped when absent). */
  onTyping?(frame: TypingServerFrame, payload: Uint8Array): void;
  onRejoin?(frame: RejoinServerFrame, payload: Uint8Array): void;
}

export interface ConnectionOptions {
  url: string;
  token: string;
  socketFactory: WireSocketFactory;
  handlers: ConnectionHandlers;
  backoff?: { initialMs: number; maxMs: number };
  /** A ping this often detects dead connections. */
  keepaliveMs?: number;
  requestTimeoutMs?: number;
}

interface Pending {
  resolve(frame: OkFrame): void;
  reject(err: ClientError): void;
  timer: ReturnType<typeof setTimeout>;
}

const FATAL_CLOSE_CODES = new Set<number>([WS_CLOSE.unauthenticated, WS_CLOSE.unsupportedVersion, WS_CLOSE.deviceRevoked]);
const MAX_RID = 0xffffffff;
/** `detail` of a `disconnected` error: did the request leave this device? */
const NOT_SENT = { delivery: 'not_sent' } as const;
const UNKNOWN = { delivery: 'unknown' } as const;

/**
 * One device's WebSocket to the server: hello, request/reply by rid,
 * delivery callbacks, and reconnection with exponential backoff and jitter.
 * Requests made while offline wait for the next `ready`.
 */
export class Connection {
  private socket: WireSocket | undefined;
  private ready = false;
  private stopped = false;
  private attempt = 0;
  private rid = 0;
  private readonly pending = new Map<number, Pending>();
  private readyWaiters: Array<{ resolve(): void; reject(err: ClientError): void }> = [];
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private keepaliveTimer: ReturnType<typeof setInterval> | undefined;
  private fatal: ClientError | undefined;

  constructor(private readonly options: ConnectionOptions) {}

  get isReady(): boolean {
    return this.ready;
  }

  start(): void {
    if (this.stopped || this.socket !== undefined) return;
    this.open();
  }

  private open(): void {
    this.options.handlers.onState('connecting', { attempt: this.attempt });
    let socket: WireSocket | undefined;
    const handlers = {
      onOpen: () => socket?.send(encodeFrame({ t: 'hello', versions: [...PROTOCOL_VERSIONS], token: this.options.token })),
      onMessage: (data: Uint8Array) => {
        if (socket === this.socket) this.onFrame(data);
      },
      onClose: (code: number, reason: string) => {
        if (socket === this.socket) this.onClose(code, reason);
      },
    };
    try {
      socket = this.options.socketFactory(this.options.url, handlers);
    } catch (err) {
      this.socket = undefined;
      this.scheduleReconnect(1006, err instanceof Error ? err.message : 'socket failed');
      return;
    }
    this.socket = socket;
  }

  private onFrame(data: Uint8Array): void {
    const decoded = decodeServerFrame(data);
    if (!decoded.ok) {
      // A server speaking something else: drop the frame, keep the connection.
      this.options.handlers.onServerError({ t: 'error', code: 'bad_request', message: `invalid frame from server: ${decoded.error}`, retryable: false });
      return;
    }
    const { frame, payload } = decoded;
    switch (frame.t) {
      case 'ready':
        this.ready = true;
        this.attempt = 0;
        this.startKeepalive();
        this.options.handlers.onState('online');
        this.options.handlers.onReady(frame);
        for (const w of this.readyWaiters.splice(0)) w.resolve();
        return;
      case 'msg':
        this.options.handlers.onMessage(frame, payload);
        return;
      case 'synced':
        this.options.handlers.onSynced();
        return;
      case 'key_packages_low':
        this.options.handlers.onKeyPackagesLow(frame.available);
        return;
      case 'devices_changed':
        this.options.handlers.onDevicesChanged(frame.userId);
        return;
      case 'typing':
        this.options.handlers.onTyping?.(frame, payload);
        return;
      case 'rejoin':
        this.options.handlers.onRejoin?.(frame, payload);
        return;
      case 'ok':
      case 'pong': {
        const p = this.pending.get(frame.rid);
        if (p === undefined) return;
        this.pending.delete(frame.rid);
        clearTimeout(p.timer);
        if (frame.t === 'ok') p.resolve(frame);
        else p.resolve({ t: 'ok', rid: frame.rid });
        return;
      }
      case 'error': {
        const p = frame.rid === undefined ? undefined : this.pending.get(frame.rid);
        if (p !== undefined && frame.rid !== undefined) {
          this.pending.delete(frame.rid);
          clearTimeout(p.timer);
          p.reject(serverError(frame));
          return;
        }
        if (!this.ready && (frame.code === 'unauthenticated' || frame.code === 'device_revoked' || frame.code === 'unsupported_version')) {
          this.fatal = serverError(frame);
        }
        this.options.handlers.onServerError(frame);
        return;
      }
    }
  }

  private onClose(code: number, reason: string): void {
    this.socket = undefined;
    this.ready = false;
    this.stopKeepalive();
    for (const [rid, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new ClientError('disconnected', 'the connection closed before the server answered', { detail: UNKNOWN }));
      this.pending.delete(rid);
    }
    if (this.stopped) {
      this.options.handlers.onState('closed', { code, reason });
      return;
    }
    if (FATAL_CLOSE_CODES.has(code) || this.fatal !== undefined) {
      const err = this.fatal ?? new ClientError(code === WS_CLOSE.deviceRevoked ? 'device_revoked' : 'unauthenticated', `the server closed the connection (${code})`);
      this.stop();
      this.options.handlers.onFatal(err);
      this.options.handlers.onState('closed', { code, reason });
      return;
    }
    this.scheduleReconnect(code, reason);
  }

  private scheduleReconnect(code: number, reason: string): void {
    this.options.handlers.onState('offline', { code, reason, attempt: this.attempt });
    const { initialMs, maxMs } = this.options.backoff ?? { initialMs: 250, maxMs: 15_000 };
    const base = Math.min(maxMs, initialMs * 2 ** Math.min(this.attempt, 16));
    const delay = base / 2 + Math.random() * (base / 2);
    this.attempt++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.stopped) this.open();
    }, delay);
  }

  private startKeepalive(): void {
    this.stopKeepalive();
    const every = this.options.keepaliveMs ?? 25_000;
    this.keepaliveTimer = setInterval(() => {
      this.request({ t: 'ping' }, [], { timeoutMs: every }).catch(() => {
        // No pong in time: the connection is dead even if the OS has not noticed.
        if (this.ready) this.socket?.close(4000, 'keepalive timeout');
      });
    }, every);
    const t = this.keepaliveTimer as { unref?: () => void };
    t.unref?.();
  }

  private stopKeepalive(): void {
    if (this.keepaliveTimer !== undefined) clearInterval(this.keepaliveTimer);
    this.keepaliveTimer = undefined;
  }

  /**
   * Resolves once connected and authenticated; rejects with
   * ClientError('disconnected', detail.delivery 'not_sent') after `timeoutMs`.
   */
  waitReady(timeoutMs = 30_000): Promise<void> {
    if (this.ready) return Promise.resolve();
    if (this.stopped) return Promise.reject(this.fatal ?? new ClientError('closed', 'the connection is closed'));
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (err: ClientError) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((w) => w !== waiter);
        reject(new ClientError('disconnected', 'not connected to the server', { detail: NOT_SENT }));
      }, timeoutMs);
      this.readyWaiters.push(waiter);
    });
  }

  /**
   * Sends a request frame (a fresh rid is added) and resolves with its `ok`;
   * an `error` reply rejects with its code. Offline, it first waits up to
   * `readyTimeoutMs` (default 30 s) for the connection. A `disconnected`
   * error says in `detail.delivery` whether the frame left ('unknown': the
   * connection dropped or the reply timed out) or not ('not_sent').
   */
  async request(header: Record<string, unknown>, parts: readonly Uint8Array[] = [], options: { timeoutMs?: number; readyTimeoutMs?: number } = {}): Promise<OkFrame> {
    await this.waitReady(options.readyTimeoutMs);
    const socket = this.socket;
    if (socket === undefined) throw new ClientError('disconnected', 'not connected to the server', { detail: NOT_SENT });
    this.rid = this.rid >= MAX_RID ? 1 : this.rid + 1;
    const rid = this.rid;
    const timeoutMs = options.timeoutMs ?? this.options.requestTimeoutMs ?? 30_000;
    return new Promise<OkFrame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(rid);
        reject(new ClientError('disconnected', 'the server did not answer in time', { detail: UNKNOWN }));
      }, timeoutMs);
      this.pending.set(rid, { resolve, reject, timer });
      try {
        socket.send(encodeFrame({ ...header, rid }, parts));
      } catch (err) {
        clearTimeout(timer);
        this.pending.delete(rid);
        reject(new ClientError('disconnected', 'could not send', { cause: err, detail: NOT_SENT }));
      }
    });
  }

  /** Cumulative acknowledgement; dropped when offline (the server then redelivers, and the client dedupes). */
  ack(group: GroupId, seq: number): void {
    if (!this.ready || this.socket === undefined) return;
    try {
      this.socket.send(encodeFrame({ t: 'ack', group, seq }));
    } catch {
      /* the close handler deals with it */
    }
  }

  /**
   * A frame that gets no reply and must never arrive late (typing): sent now
   * if connected, else dropped (false). Never queued, never retried.
   */
  sendEphemeral(header: Record<string, unknown>, parts: readonly Uint8Array[] = []): boolean {
    if (!this.ready || this.socket === undefined) return false;
    try {
      this.socket.send(encodeFrame(header, parts));
      return true;
    } catch {
      return false;
    }
  }

  /** Drops the current socket and reconnects (for tests and network changes). */
  reconnect(): void {
    this.socket?.close(4000, 'reconnect');
  }

  stop(): void {
    this.stopped = true;
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.stopKeepalive();
    const err = this.fatal ?? new ClientError('closed', 'the connection is closed');
    for (const w of this.readyWaiters.splice(0)) w.reject(err);
    for (const [rid, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new ClientError('closed', 'the connection was closed'));
      this.pending.delete(rid);
    }
    this.socket?.close(WS_CLOSE.normal, 'client closing');
  }
}

function serverError(frame: ErrorFrame): ClientError {
  const code = isErrorCode(frame.code) ? frame.code : 'internal';
  return new ClientError(code, frame.message, { detail: frame.detail, server: true });
}
