import { createServer } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';

/**
 * The baseline: a WebSocket relay with the same library and settings as Parley
 * but nothing else. A client connects with ?id=N; each binary frame starts
 * with a uint32 destination id and is forwarded as is. No storage, no auth,
 * no validation, no acknowledgements.
 */
const port = Number(process.argv[2] ?? 0);
const sockets = new Map<number, WebSocket>();
const http = createServer((_req, res) => res.end('relay'));
const wss = new WebSocketServer({ server: http, perMessageDeflate: false, maxPayload: 1024 * 1024 });
wss.on('connection', (ws, req) => {
  const id = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('id'));
  sockets.set(id, ws);
  ws.on('message', (data: Buffer) => {
    const dest = sockets.get(data.readUInt32BE(0));
    dest?.send(data, { binary: true });
  });
  ws.on('close', () => sockets.delete(id));
});
http.listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
  wss.close();
  http.close(() => process.exit(0));
  for (const s of sockets.values()) s.terminate();
});
