import assert from 'node:assert/strict';
import { createDecipheriv, createECDH, hkdfSync, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { toBase64Url } from '@parley/protocol';

/**
 * Test stand-ins for the browser's push service (a third party that cannot
 * run here): a local HTTP endpoint whose subscription keys the test holds, so
 * it can decrypt each push the server sends exactly as the browser would.
 */

/** The browser's push service, played by the test: records each push, decrypts it as the browser would. */
export class LocalPushService {
  private readonly ecdh = createECDH('prime256v1');
  private readonly auth = randomBytes(16);
  readonly payloads: string[] = [];
  /** Called with each push's decrypted payload (the test forwards it to the service worker). */
  onPush: (payload: string) => Promise<void> = async () => undefined;
  private constructor(private readonly server: Server) {
    this.ecdh.generateKeys();
  }

  static async start(): Promise<LocalPushService> {
    const server = createServer();
    const svc = new LocalPushService(server);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.writeHead(201).end();
        const payload = svc.decrypt(Buffer.concat(chunks));
        svc.payloads.push(payload);
        void svc.onPush(payload).catch((err: unknown) => console.error('delivering a push failed', err));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return svc;
  }

  /** What PushSubscription.toJSON() gives for this subscription. */
  get subscription(): { endpoint: string; keys: { p256dh: string; auth: string } } {
    const port = (this.server.address() as AddressInfo).port;
    return { endpoint: `http://127.0.0.1:${port}/push/device-a`, keys: { p256dh: toBase64Url(this.ecdh.getPublicKey()), auth: toBase64Url(this.auth) } };
  }

  /** RFC 8291 §3.4 over RFC 8188 aes128gcm: header (salt, record size, key id = sender's public key), one record. */
  private decrypt(body: Buffer): string {
    const salt = body.subarray(0, 16);
    const keyLength = body.readUInt8(20);
    const senderKey = body.subarray(21, 21 + keyLength);
    const record = body.subarray(21 + keyLength);
    const secret = this.ecdh.computeSecret(senderKey);
    const info = Buffer.concat([Buffer.from('WebPush: info\0'), this.ecdh.getPublicKey(), senderKey]);
    const ikm = Buffer.from(hkdfSync('sha256', secret, this.auth, info, 32));
    const key = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
    const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
    const decipher = createDecipheriv('aes-128-gcm', key, nonce);
    decipher.setAuthTag(record.subarray(record.length - 16));
    const plain = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
    // Padding: zeros after the delimiter 0x02 (last record).
    const end = plain.lastIndexOf(2);
    assert.ok(end >= 0 && plain.subarray(end + 1).every((b) => b === 0), 'an RFC 8188 last-record delimiter');
    return plain.subarray(0, end).toString('utf8');
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** In the page, before the app loads: PushManager hands out the local push service's subscription. */
export function stubPushManager(sub: LocalPushService['subscription']): string {
  return `(() => {
    const sub = ${JSON.stringify(sub)};
    let current = null;
    PushManager.prototype.subscribe = async function (options) {
      const key = new Uint8Array(options.applicationServerKey).buffer;
      window.__parleyPushKey = Array.from(new Uint8Array(key));
      current = {
        endpoint: sub.endpoint,
        expirationTime: null,
        options: { userVisibleOnly: options.userVisibleOnly, applicationServerKey: key },
        toJSON: () => ({ endpoint: sub.endpoint, expirationTime: null, keys: sub.keys }),
        unsubscribe: async () => { current = null; return true; },
      };
      return current;
    };
    PushManager.prototype.getSubscription = async function () { return current; };
  })();`;
}
