import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import { nodeSocketFactory } from './node-websocket.js';
import { globalWebSocket, type WireSocketHandlers } from './socket.js';

/** A server that echoes binary frames, also sends a text frame first, and closes when told to. */
let wss: WebSocketServer;
let url: string;
const closes: Array<{ code: number; reason: string }> = [];

before(async () => {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  wss.on('connection', (ws: ServerSocket) => {
    ws.send('a text frame is not part of the protocol');
    ws.on('message', (data, isBinary) => {
      const bytes = new Uint8Array(data as Buffer);
      if (isBinary && bytes[0] === 0xff) ws.close(4321, 'as you asked');
      else if (isBinary) ws.send(bytes, { binary: true });
    });
    ws.on('close', (code, reason) => closes.push({ code, reason: reason.toString('utf8') }));
  });
});

after(async () => {
  for (const c of wss.clients) c.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
});

function recorder() {
  const frames: Uint8Array[] = [];
  const closed: Array<{ code: number; reason: string }> = [];
  let opened = 0;
  let onEvent: () => void = () => undefined;
  const handlers: WireSocketHandlers = {
    onOpen: () => {
      opened++;
      onEvent();
    },
    onMessage: (data) => {
      frames.push(data);
      onEvent();
    },
    onClose: (code, reason) => {
      closed.push({ code, reason });
      onEvent();
    },
  };
  const until = async (check: () => boolean) => {
    const deadline = Date.now() + 5000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise<void>((resolve) => {
        onEvent = resolve;
        setTimeout(resolve, 50);
      });
    }
  };
  return { frames, closed, handlers, until, opened: () => opened };
}

describe('the Node WebSocket adapter (the global WebSocket of Node 22+)', () => {
  it('is the runtime’s own WebSocket, not a package', () => {
    assert.equal(typeof globalWebSocket(), 'function');
  });

  it('delivers binary frames as bytes, ignores text frames, and reports the server’s close once', async () => {
    const r = recorder();
    const socket = nodeSocketFactory(url, r.handlers);
    await r.until(() => r.opened() === 1);
    socket.send(new Uint8Array([1, 2, 3]));
    socket.send(new Uint8Array([4, 5]));
    await r.until(() => r.frames.length === 2);
    assert.deepEqual(
      r.frames.map((f) => [...f]),
      [
        [1, 2, 3],
        [4, 5],
      ],
    );
    assert.ok(r.frames.every((f) => f instanceof Uint8Array));
    socket.send(new Uint8Array([0xff]));
    await r.until(() => r.closed.length > 0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(r.closed, [{ code: 4321, reason: 'as you asked' }]);
  });

  it('closes with the code and reason given, and still closes when the standard refuses them', async () => {
    const a = recorder();
    const first = nodeSocketFactory(url, a.handlers);
    await a.until(() => a.opened() === 1);
    const before = closes.length;
    first.close(4000, 'reconnect');
    await a.until(() => a.closed.length > 0 && closes.length > before);
    assert.deepEqual(a.closed, [{ code: 4000, reason: 'reconnect' }]);
    assert.deepEqual(closes.at(-1), { code: 4000, reason: 'reconnect' });

    const b = recorder();
    const second = nodeSocketFactory(url, b.handlers);
    await b.until(() => b.opened() === 1);
    second.close(1001, 'going away is a server-only code');
    await b.until(() => b.closed.length > 0);
    assert.equal(b.closed.length, 1);
  });

  it('reports a connection that cannot open as a close with 1006, once', async () => {
    const probe = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => probe.once('listening', () => resolve()));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const r = recorder();
    nodeSocketFactory(`ws://127.0.0.1:${port}`, r.handlers);
    await r.until(() => r.closed.length > 0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(r.opened(), 0);
    assert.deepEqual(r.closed.map((c) => c.code), [1006]);
  });

  it('closing while still connecting ends the attempt without opening', async () => {
    const r = recorder();
    const socket = nodeSocketFactory(url, r.handlers);
    socket.close(4000, 'changed my mind');
    await r.until(() => r.closed.length > 0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(r.opened(), 0);
    assert.equal(r.closed.length, 1);
  });
});
