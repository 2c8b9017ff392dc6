import type { WebSocket, RawData } from 'ws';
import {
  decodeClientFrame,
  encodeFrame,
  negotiateVersion,
  ParleyError,
  PROTOCOL_VERSIONS,
  splitFrame,
  WS_CLOSE,
  type ClientFrame,
  type DeviceId,
  type GroupId,
  type UserId,
} from '@parley/protocol';
import type { Subscription } from '../bus/bus.js';
import type { BusEvent } from '../bus/events.js';
import type { AppContext } from '../context.js';
import type { BacklogCursor, StoredMessage } from '../storage/storage.js';
import { errorLogFields, toApiError } from '../errors.js';
import { authenticate, authenticateLimited } from '../http/pipeline.js';
import { acknowledge, commit, leave, sendMessage } from '../services/delivery.js';
import { keyPackageStock } from '../services/key-packages.js';
import { forwardRejoin } from '../services/rejoin.js';
import { forwardTyping } from '../services/typing.js';
import type { FrameOutType } from '../metrics/metrics.js';
import type { Corkable, SocketCorker } from './corker.js';
import { GroupOrder } from './group-order.js';
import { OwnSends } from './own-sends.js';
import type { SocketRegistry } from './socket-registry.js';

const BACKLOG_PAGE = 256;
/** The backlog replay pauses while more than this waits to be written to the socket. */
const DRAIN_BYTES = 1024 * 1024;
/** Longest header read to find the request id of a frame that is refused unread (rate limit). */
const PEEK_HEADER_BYTES = 8192;

/**
 * The `rid` of a frame that will not be handled, so the client learns which
 * request was dropped. Only short headers are read: refusing must stay cheap.
 */
function peekRid(data: RawData): number | undefined {
  if (Array.isArray(data) || data instanceof ArrayBuffer || data.length < 5 || data.readUInt32BE(1) > PEEK_HEADER_BYTES) return undefined;
  try {
    const header = splitFrame(data).header;
    const rid = typeof header === 'object' && header !== null ? (header as { rid?: unknown }).rid : undefined;
    return typeof rid === 'number' && Number.isInteger(rid) && rid >= 0 && rid <= 0xffffffff ? rid : undefined;
  } catch {
    return undefined;
  }
}

type State = 'awaiting_hello' | 'syncing' | 'live' | 'closed';

/**
 * One device's WebSocket. Frames are handled one at a time, in arrival order,
 * so a device's own sends are sequenced as it sent them. On hello the device
 * subscribes to its bus subject first, then replays its mailbox; live
 * deliveries arriving meanwhile are held and released after the backlog,
 * skipping any the backlog already carried.
 */
export class Connection {
  private state: State = 'awaiting_hello';
  private deviceId: DeviceId | undefined;
  private userId: UserId | undefined;
  private subscription: Subscription | undefined;
  /** Live deliveries that arrive while the backlog is being replayed. */
  private held: Array<Extract<BusEvent, { type: 'deliver' }>> = [];
  /** What this device sent and has not acknowledged yet (memory only): its acks reach over it. */
  private readonly own = new OwnSends();
  /**
   * Per group, the highest seq handed to this socket and not yet acknowledged
   * (memory only). A socket that goes away with some left (closed while the
   * server still thought it open) gets the Web Push wake-up the stored
   * messages would have sent had it been gone already.
   */
  private readonly unacked = new Map<string, number>();
  private readonly order = new GroupOrder((frame, storedAt) => {
    if (this.send(frame, 'msg')) this.ctx.metrics.delivered('live', storedAt);
  });
  private readonly gapTimers = new Map<string, { timer: NodeJS.Timeout; tries: number }>();
  /** Frames that arrived while an earlier one was being handled. */
  private readonly waiting: Array<{ frame: ClientFrame; payload: Uint8Array }> = [];
  private handling = false;
  private readonly helloTimer: NodeJS.Timeout;
  private recheckTimer: NodeJS.Timeout | undefined;
  private recheckSession: (() => void) | undefined;
  private readonly connKey: string;

  constructor(
    private readonly ctx: AppContext,
    private readonly ws: WebSocket,
    connectionNumber: number,
    private readonly onClose: (c: Connection) => void,
    private readonly corker: SocketCorker,
    private readonly sockets: SocketRegistry<Connection>,
    /** The client's address as a rate-limit key (never stored or logged). */
    private readonly peer: string,
  ) {
    this.connKey = `ws:${connectionNumber}`;
    this.helloTimer = setTimeout(() => this.close(WS_CLOSE.unauthenticated, 'hello timeout'), ctx.config.helloTimeoutMs);
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('close', () => void this.teardown());
    ws.on('error', () => void this.teardown());
  }

  private isClosed(): boolean {
    return this.state === 'closed';
  }

  get device(): DeviceId | undefined {
    return this.deviceId;
  }

  /** Writes one frame (`type` for the metrics); false when the connection is closed or closing for a slow reader. */
  private send(frame: Uint8Array, type: FrameOutType): boolean {
    if (this.isClosed()) return false;
    if (this.ws.bufferedAmount > this.ctx.config.maxSocketBufferBytes) {
      // A reader this slow would make us buffer without bound. It resumes from its mailbox.
      this.close(WS_CLOSE.tooSlow, 'reader too slow');
      return false;
    }
    this.cork();
    this.ws.send(frame, { binary: true });
    this.ctx.metrics.frameOut(type);
    return true;
  }

  private cork(): void {
    // The ws library keeps its socket private; corking it is safe because ws
    // itself only ever writes whole frames to it.
    const socket = (this.ws as unknown as { _socket?: Corkable })._socket;
    if (socket) this.corker.cork(socket);
  }

  private sendError(err: unknown, rid?: number): void {
    const api = toApiError(err);
    if (api.code === 'internal') this.ctx.logger.error({ event: 'ws.error', deviceId: this.deviceId, ...errorLogFields(api) }, 'frame failed');
    const header: Record<string, unknown> = { t: 'error', code: api.code, message: api.message, retryable: api.retryable };
    if (rid !== undefined) header['rid'] = rid;
    if (api.detail !== undefined) header['detail'] = api.detail;
    this.send(encodeFrame(header), 'error');
  }

  close(code: number, reason: string): void {
    if (this.isClosed()) return;
    this.state = 'closed';
    clearTimeout(this.helloTimer);
    try {
      this.ws.close(code, reason);
    } catch {
      this.ws.terminate();
    }
    void this.teardown();
  }

  private async teardown(): Promise<void> {
    this.state = 'closed';
    clearTimeout(this.helloTimer);
    clearInterval(this.recheckTimer);
    for (const g of this.gapTimers.values()) clearTimeout(g.timer);
    this.gapTimers.clear();
    this.waiting.length = 0;
    if (this.userId !== undefined) this.sockets.remove(this.userId, this);
    const sub = this.subscription;
    this.subscription = undefined;
    if (sub && this.deviceId !== undefined) {
      this.ctx.push.deviceDisconnected(this.deviceId);
      if (this.unacked.size > 0) this.ctx.push.notify([this.deviceId]);
    }
    this.unacked.clear();
    if (sub) await sub.unsubscribe().catch(() => undefined);
    this.onClose(this);
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.isClosed()) return;
    const limits = this.ctx.config.rateLimits;
    if (limits.enabled && !this.ctx.limiter.take(this.connKey, limits.framesPerSecond, limits.frameBurst)) {
      this.ctx.metrics.frameIn('unread');
      this.sendError(new ParleyError('rate_limited', 'too many frames, slow down'), isBinary ? peekRid(data) : undefined);
      return;
    }
    if (!isBinary) {
      this.ctx.metrics.frameIn('invalid');
      this.sendError(new ParleyError('bad_request', 'frames must be binary'));
      return;
    }
    const bytes = Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? new Uint8Array(data) : data;
    const decoded = decodeClientFrame(bytes);
    this.ctx.metrics.frameIn(decoded.ok ? decoded.frame.t : 'invalid');
    if (!decoded.ok) {
      this.sendError(new ParleyError('bad_request', decoded.error));
      if (this.state === 'awaiting_hello') this.close(WS_CLOSE.protocolViolation, 'expected hello');
      return;
    }
    // The payload is a view of the buffer ws read it into; ws never writes to that buffer again,
    // and the payload is only kept until its message is stored and framed for delivery.
    if (this.handling) {
      this.waiting.push(decoded);
      return;
    }
    this.handling = true;
    void this.handleInOrder(decoded);
  }

  /** Handles one frame, then any that arrived meanwhile, in arrival order. */
  private async handleInOrder(first: { frame: ClientFrame; payload: Uint8Array }): Promise<void> {
    let next: { frame: ClientFrame; payload: Uint8Array } | undefined = first;
    while (next !== undefined) {
      try {
        await this.handle(next.frame, next.payload);
      } catch (err) {
        this.sendError(err);
      }
      next = this.waiting.shift();
    }
    this.handling = false;
  }

  private async handle(frame: ClientFrame, payload: Uint8Array): Promise<void> {
    if (this.isClosed()) return;
    if (this.state === 'awaiting_hello') {
      if (frame.t !== 'hello') {
        this.sendError(new ParleyError('unauthenticated', 'send hello first'));
        this.close(WS_CLOSE.unauthenticated, 'hello required');
        return;
      }
      await this.hello(frame.versions, frame.token);
      return;
    }
    const deviceId = this.deviceId;
    const userId = this.userId;
    if (!deviceId || !userId) return;
    const sender = { userId, deviceId };
    const rid = 'rid' in frame ? frame.rid : undefined;
    try {
      switch (frame.t) {
        case 'hello':
          throw new ParleyError('bad_request', 'already authenticated');
        case 'ping':
          this.send(encodeFrame({ t: 'pong', rid: frame.rid }), 'pong');
          return;
        case 'send': {
          // A riding acknowledgement shares the message's write (so the sender's own cursor moves
          // past the message too) and counts whatever becomes of the message: see sendMessage.
          const ack = frame.ack === undefined ? undefined : this.own.extend(frame.group, frame.ack);
          const r = await sendMessage(this.ctx, sender, ack === undefined ? frame : { ...frame, ack }, payload);
          this.ctx.metrics.stored('message');
          this.own.record(frame.group, r.seq);
          this.order.sentByDevice(frame.group, r.seq);
          this.send(encodeFrame({ t: 'ok', rid: frame.rid, seq: r.seq, epoch: r.epoch }), 'ok');
          return;
        }
        case 'commit': {
          const r = await commit(this.ctx, sender, frame, payload);
          this.ctx.metrics.stored('commit');
          this.own.record(frame.group, r.seq);
          this.order.sentByDevice(frame.group, r.seq);
          this.send(encodeFrame({ t: 'ok', rid: frame.rid, seq: r.seq, epoch: r.epoch }), 'ok');
          return;
        }
        case 'ack': {
          // Reaches over the device's own messages right after it (see OwnSends).
          const upTo = this.own.extend(frame.group, frame.seq);
          await acknowledge(this.ctx, deviceId, frame.group, upTo);
          if ((this.unacked.get(frame.group) ?? 0) <= upTo) this.unacked.delete(frame.group);
          return;
        }
        case 'leave':
          await leave(this.ctx, deviceId, frame.group);
          this.own.forget(frame.group);
          this.unacked.delete(frame.group);
          this.send(encodeFrame({ t: 'ok', rid: frame.rid }), 'ok');
          return;
        case 'typing':
          // Ephemeral: forwarded to live devices only, never stored, no reply (see services/typing.ts).
          await forwardTyping(this.ctx, sender, frame, payload);
          return;
        case 'rejoin':
          // Ephemeral too: a broken device asks live members to re-add it (see services/rejoin.ts).
          await forwardRejoin(this.ctx, sender, frame, payload);
          return;
      }
    } catch (err) {
      this.sendError(err, rid);
    }
  }

  private async hello(versions: number[], token: string): Promise<void> {
    clearTimeout(this.helloTimer);
    const version = negotiateVersion(versions);
    if (version === undefined) {
      this.sendError(new ParleyError('unsupported_version', `server speaks protocol ${PROTOCOL_VERSIONS.join(', ')}`, { detail: { supported: [...PROTOCOL_VERSIONS] } }));
      this.close(WS_CLOSE.unsupportedVersion, 'unsupported version');
      return;
    }
    let caller;
    try {
      // Pending devices are refused (device_pending); bad tokens count against the client address.
      caller = await authenticateLimited(this.ctx, token, () => this.peer);
    } catch (err) {
      if (err instanceof ParleyError) this.ctx.metrics.authFailed(err.code, 'ws');
      this.sendError(err);
      const limited = err instanceof ParleyError && err.code === 'rate_limited';
      this.close(limited ? WS_CLOSE.rateLimited : WS_CLOSE.unauthenticated, limited ? 'rate limited' : 'unauthenticated');
      return;
    }
    if (this.isClosed()) return;
    if (!this.sockets.tryAdd(caller.userId, this)) {
      this.sendError(new ParleyError('too_many_connections', `an account may hold ${this.ctx.config.maxSocketsPerAccount} connections at once`, { detail: { max: this.ctx.config.maxSocketsPerAccount } }));
      this.close(WS_CLOSE.tooManyConnections, 'too many connections');
      return;
    }
    this.deviceId = caller.deviceId;
    this.userId = caller.userId;
    this.state = 'syncing';
    // Sessions can end elsewhere (sign-out, revocation by an operator's CLI): look again now and
    // then, and at once when told (a password change that signed out other sessions).
    this.recheckSession = () => {
      authenticate(this.ctx, token).catch((err: unknown) => {
        this.sendError(err);
        this.close(WS_CLOSE.unauthenticated, 'session ended');
      });
    };
    this.recheckTimer = setInterval(this.recheckSession, this.ctx.config.sessionRecheckMs);
    this.recheckTimer.unref();
    this.subscription = await this.ctx.bus.subscribe(caller.deviceId, (event) => this.onBus(event));
    if (this.isClosed()) {
      await this.subscription.unsubscribe();
      return;
    }
    // Connected: messages stored for this device from now on wake no push (counted until teardown).
    this.ctx.push.deviceConnected(caller.deviceId);
    const stock = await keyPackageStock(this.ctx, caller.deviceId);
    this.send(encodeFrame({ t: 'ready', version, userId: caller.userId, deviceId: caller.deviceId, keyPackages: { available: stock.available, low: stock.low } }), 'ready');
    await this.replayBacklog(caller.deviceId);
  }

  private encodeStored(m: StoredMessage): Uint8Array {
    const header: Record<string, unknown> = { t: 'msg', group: m.groupId, seq: m.seq, kind: m.kind, epoch: m.epoch };
    if (m.parts.length > 1) header['parts'] = m.parts.map((p) => p.length);
    return encodeFrame(header, m.parts);
  }

  /** A message went to this socket: it counts as waiting for an ack until one reaches it. */
  private handed(group: string, seq: number): void {
    if (seq > (this.unacked.get(group) ?? 0)) this.unacked.set(group, seq);
  }

  private sendStored(m: StoredMessage): void {
    if (this.send(this.encodeStored(m), 'msg')) this.ctx.metrics.delivered('backlog', undefined);
    this.handed(m.groupId, m.seq);
    this.order.mark(m.groupId, m.seq);
  }

  /**
   * Welcomes first (each precedes its group's later messages), then the group
   * logs after this device's cursors. Each group's last seq is read first: all
   * below it is either acknowledged or in this backlog, which sets where live
   * delivery continues.
   */
  private async replayBacklog(deviceId: DeviceId): Promise<void> {
    for (const g of await this.ctx.storage.groupsOfDevice(deviceId)) this.order.mark(g.id, g.lastSeq);
    for (const w of await this.ctx.storage.pendingWelcomes(deviceId)) this.sendStored(w);
    let after: BacklogCursor | undefined;
    for (;;) {
      if (this.isClosed()) return;
      const page = await this.ctx.storage.pendingMessages(deviceId, after, BACKLOG_PAGE);
      for (const m of page) {
        this.sendStored(m);
        // Large messages fill the socket long before a page ends: wait for it rather than overflow it.
        if (this.ws.bufferedAmount > DRAIN_BYTES) await this.drained();
        if (this.isClosed()) return;
      }
      const last = page.at(-1);
      if (!last || page.length < BACKLOG_PAGE) break;
      after = { groupId: last.groupId, seq: last.seq };
      await this.drained();
    }
    if (this.isClosed()) return;
    this.state = 'live';
    const held = this.held;
    this.held = [];
    for (const e of held) this.deliverLive(e);
    this.send(encodeFrame({ t: 'synced' }), 'synced');
  }

  private deliverLive(e: Extract<BusEvent, { type: 'deliver' }>): void {
    this.handed(e.group, e.seq);
    if (this.order.offer(e.group, e.seq, e.frame, e.storedAt) === 'held') this.scheduleGapFill(e.group);
  }

  /**
   * A later message came before an earlier one (another process published
   * first). Give the earlier one a moment to arrive, then read the gap from
   * storage; after a few tries, deliver what is held rather than stall.
   */
  private scheduleGapFill(group: string): void {
    if (this.gapTimers.has(group)) return;
    // A group new to this connection is looked up at once; a gap gets a moment to fill live.
    const delay = this.order.position(group) === undefined ? 0 : 50;
    const entry = { tries: 0, timer: setTimeout(() => void this.fillGap(group), delay) };
    this.gapTimers.set(group, entry);
  }

  private async fillGap(group: string): Promise<void> {
    const entry = this.gapTimers.get(group);
    const deviceId = this.deviceId;
    if (!entry || !deviceId || this.isClosed()) return;
    if (this.order.hasGap(group)) {
      try {
        if (this.order.position(group) === undefined) {
          // Joined while connected: its Welcome (if still pending) is where this device starts.
          for (const w of await this.ctx.storage.pendingWelcomes(deviceId)) {
            if (w.groupId !== group) continue;
            if (this.send(this.encodeStored(w), 'msg')) this.ctx.metrics.delivered('live', undefined);
            this.handed(group, w.seq);
            this.order.mark(group, w.seq);
          }
        }
        const from = this.order.position(group) ?? 0;
        const page = await this.ctx.storage.pendingMessages(deviceId, { groupId: group as GroupId, seq: from }, BACKLOG_PAGE);
        const mine = page.filter((m) => m.groupId === group);
        const first = mine[0];
        // Everything below the first unacknowledged message is acknowledged: start there.
        if (this.order.position(group) === undefined && first) this.order.mark(group, first.seq - 1);
        for (const m of mine) {
          this.handed(m.groupId, m.seq);
          this.order.offer(m.groupId, m.seq, this.encodeStored(m));
        }
      } catch {
        /* storage unavailable: try again, then release */
      }
    }
    if (!this.order.hasGap(group) || this.isClosed()) {
      this.gapTimers.delete(group);
      return;
    }
    entry.tries++;
    if (entry.tries >= 5) {
      this.order.release(group);
      this.gapTimers.delete(group);
      return;
    }
    entry.timer = setTimeout(() => void this.fillGap(group), 50 * 2 ** entry.tries);
  }

  /** Waits until the socket has sent most of what is queued, so a long backlog does not pile up in memory. */
  private async drained(): Promise<void> {
    while (!this.isClosed() && this.ws.bufferedAmount > DRAIN_BYTES) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  private onBus(event: BusEvent): void {
    if (this.isClosed()) return;
    if (event.type === 'revoked') {
      this.sendError(new ParleyError('device_revoked', 'this device was revoked'));
      this.close(WS_CLOSE.deviceRevoked, 'device revoked');
      return;
    }
    if (event.type === 'recheck') {
      this.recheckSession?.();
      return;
    }
    if (event.type === 'notice') {
      this.send(event.frame, 'notice');
      return;
    }
    if (event.type === 'ephemeral') {
      // Only to a device that is live now: never held behind a backlog replay, never delivered late.
      if (this.state === 'live') this.send(event.frame, 'typing');
      return;
    }
    if (this.state === 'syncing') this.held.push(event);
    else this.deliverLive(event);
  }
}
