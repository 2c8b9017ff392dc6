import { decodeServerFrame, splitFrame } from '@parley/protocol';
import type { ServerFrame } from '@parley/protocol';
import { nodeSocketFactory } from '../../src/node.js';
import type { WireSocketFactory } from '../../src/index.js';

/** The JSON header of a client frame (for routing decisions in tests). */
function headerOf(data: Uint8Array): { t?: unknown } {
  try {
    const h = splitFrame(data).header;
    return typeof h === 'object' && h !== null ? (h as { t?: unknown }) : {};
  } catch {
    return {};
  }
}

/**
 * A WebSocket adapter that records the frames a client receives and can hold
 * back outgoing frames of one type until released (to force races).
 */
export class RecordingSockets {
  readonly received: ServerFrame[] = [];
  readonly sent: Array<{ t: unknown; bytes: Uint8Array }> = [];
  private holdType: string | undefined;
  private held: Array<() => void> = [];
  private heldWaiters: Array<() => void> = [];

  private offline = false;
  private readonly open = new Set<{ close(code?: number, reason?: string): void }>();
  private swallowOk = false;

  readonly factory: WireSocketFactory = (url, handlers) => {
    if (this.offline) {
      // No network: the socket fails to open (asynchronously, as a real one does).
      setTimeout(() => handlers.onClose(1006, 'offline'), 0);
      return { send: () => undefined, close: () => undefined };
    }
    const socket = nodeSocketFactory(url, {
      ...handlers,
      onMessage: (data) => {
        const decoded = decodeServerFrame(data);
        if (decoded.ok) this.received.push(decoded.frame);
        if (this.swallowOk && decoded.ok && decoded.frame.t === 'ok') {
          // The server answered, but the connection "drops" before the answer arrives.
          this.swallowOk = false;
          socket.close(4000, 'dropped before the reply');
          return;
        }
        handlers.onMessage(data);
      },
      onClose: (code, reason) => {
        this.open.delete(socket);
        handlers.onClose(code, reason);
      },
    });
    this.open.add(socket);
    return {
      send: (data) => {
        const t = headerOf(data).t;
        this.sent.push({ t, bytes: data });
        if (this.holdType !== undefined && t === this.holdType) {
          this.held.push(() => socket.send(data));
          for (const w of this.heldWaiters.splice(0)) w();
          return;
        }
        socket.send(data);
      },
      close: (code, reason) => socket.close(code, reason),
    };
  };

  /** Cuts the network (open sockets drop, new ones fail to open) or brings it back. */
  setOffline(offline: boolean): void {
    this.offline = offline;
    if (offline) for (const s of [...this.open]) s.close(4000, 'offline');
  }

  /** The next `ok` reply is swallowed and the socket closed: the request went through, its answer is lost. */
  dropNextReply(): void {
    this.swallowOk = true;
  }

  /** Holds every outgoing frame of type `t` until release(). */
  hold(t: string): void {
    this.holdType = t;
  }

  async whenHolding(): Promise<void> {
    if (this.held.length > 0) return;
    await new Promise<void>((r) => this.heldWaiters.push(r));
  }

  release(): void {
    this.holdType = undefined;
    for (const send of this.held.splice(0)) send();
  }

  errors(code: string): number {
    return this.received.filter((f) => f.t === 'error' && f.code === code).length;
  }
}
