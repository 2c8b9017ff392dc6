import WebSocket from 'ws';
import type { WireSocketFactory } from './socket.js';

/** The Node adapter (the `ws` package), for Node versions without a global WebSocket. */
export const nodeSocketFactory: WireSocketFactory = (url, handlers) => {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  let closed = false;
  const closeOnce = (code: number, reason: string) => {
    if (closed) return;
    closed = true;
    handlers.onClose(code, reason);
  };
  ws.on('open', () => handlers.onOpen());
  ws.on('message', (data, isBinary) => {
    if (!isBinary) return;
    // Copies: the client keeps parts of frames (ciphertext) beyond this callback.
    const bytes = Array.isArray(data) ? new Uint8Array(Buffer.concat(data)) : new Uint8Array(data);
    handlers.onMessage(bytes);
  });
  ws.on('close', (code, reason) => closeOnce(code, reason.toString('utf8')));
  ws.on('error', () => {
    closeOnce(1006, 'socket error');
    ws.terminate();
  });
  return {
    send: (data) => ws.send(data, { binary: true }),
    close: (code, reason) => {
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(code, reason);
    },
  };
};
