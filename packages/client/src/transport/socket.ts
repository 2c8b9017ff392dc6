/**
 * The smallest WebSocket surface the client needs, and the adapter over the
 * standard (WHATWG) WebSocket that browsers and Node 22 and newer provide as a
 * global. Tests wrap it to record or hold back frames. Frames are always binary.
 */

export interface WireSocketHandlers {
  onOpen(): void;
  onMessage(data: Uint8Array): void;
  /** Called once, whether the socket failed to open or closed later. */
  onClose(code: number, reason: string): void;
}

export interface WireSocket {
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}

export type WireSocketFactory = (url: string, handlers: WireSocketHandlers) => WireSocket;

/** What the client needs of a standard (WHATWG) WebSocket constructor. */
interface StandardWebSocket {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { code: number; reason: string }) => void): void;
  addEventListener(type: 'error', listener: () => void): void;
}
type StandardWebSocketConstructor = new (url: string) => StandardWebSocket;

/** The runtime's global WebSocket, if it has one (browsers, Deno, Node ≥ 22). */
export function globalWebSocket(): StandardWebSocketConstructor | undefined {
  const ctor = (globalThis as { WebSocket?: unknown }).WebSocket;
  return typeof ctor === 'function' ? (ctor as StandardWebSocketConstructor) : undefined;
}

/** An adapter over a standard WebSocket constructor. */
export function standardSocketFactory(Ctor: StandardWebSocketConstructor): WireSocketFactory {
  return (url, handlers) => {
    const ws = new Ctor(url);
    ws.binaryType = 'arraybuffer';
    let closed = false;
    const closeOnce = (code: number, reason: string) => {
      if (closed) return;
      closed = true;
      handlers.onClose(code, reason);
    };
    ws.addEventListener('open', () => handlers.onOpen());
    ws.addEventListener('message', (event) => {
      if (event.data instanceof ArrayBuffer) handlers.onMessage(new Uint8Array(event.data));
      else if (ArrayBuffer.isView(event.data)) handlers.onMessage(new Uint8Array(event.data.buffer, event.data.byteOffset, event.data.byteLength));
      // Text frames are not part of the protocol: ignore them.
    });
    ws.addEventListener('close', (event) => closeOnce(event.code, event.reason));
    ws.addEventListener('error', () => closeOnce(1006, 'socket error'));
    return {
      send: (data) => ws.send(data),
      close: (code, reason) => {
        try {
          ws.close(code, reason);
        } catch {
          // The standard refuses codes other than 1000 and 3000-4999, and reasons over 123
          // bytes (InvalidAccessError, SyntaxError): close anyway, without them.
          try {
            ws.close();
          } catch {
            /* already closing */
          }
        }
      },
    };
  };
}
