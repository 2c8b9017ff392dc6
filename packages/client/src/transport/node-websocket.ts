import { globalWebSocket, standardSocketFactory, type WireSocketFactory } from './socket.js';

/**
 * The adapter for Node. Every supported Node (22 and newer) has the standard
 * WebSocket as a global, so this is the standard adapter over it — the same
 * code path as in browsers — and the SDK needs no WebSocket package. It keeps
 * its name for callers that pass it explicitly (`@parley/client/node`).
 */
export const nodeSocketFactory: WireSocketFactory = (url, handlers) => {
  const Ctor = globalWebSocket();
  // Thrown to the connection, which reports it as a failed connect (close 1006) and retries.
  if (Ctor === undefined) throw new Error('this runtime has no global WebSocket: @parley/client needs Node 22 or newer');
  return standardSocketFactory(Ctor)(url, handlers);
};
