import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { buildKeyPackage, fromBase64Url, type DeviceId, type KeyPackageFields, type UserId } from '@parley/protocol';

/**
 * Device keys for server tests: real Ed25519 key pairs (node:crypto) and
 * KeyPackages built and signed with them, so the server's checks run against
 * the same structures a real client uploads. The server itself never holds
 * a private key; only test code does.
 */
export class TestDeviceKey {
  private constructor(
    private readonly privateKey: KeyObject,
    /** The raw 32-byte Ed25519 public key, as registered with the server. */
    readonly publicKey: Uint8Array,
  ) {}

  static generate(): TestDeviceKey {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const jwk = publicKey.export({ format: 'jwk' });
    const raw = fromBase64Url(jwk.x ?? '');
    if (!raw || raw.length !== 32) throw new Error('unexpected Ed25519 public key');
    return new TestDeviceKey(privateKey, raw);
  }

  sign(message: Uint8Array): Uint8Array {
    return new Uint8Array(sign(null, message, this.privateKey));
  }
}

export interface TestKeyPackageOptions {
  /** The credential's identity text; default "parley1:<userId>:<deviceId>". */
  identity?: string;
  /** The leaf's signature key; default the signing key's own. */
  signatureKey?: Uint8Array;
  cipherSuite?: number;
  notAfter?: number;
  lastResort?: boolean;
  /** Leave the signatures as made (default) or replace them with garbage. */
  badSignature?: boolean;
}

const LAST_RESORT_EXTENSION = 10;

/** A KeyPackage (MLSMessage) for a device, signed by `key` over the RFC 9420 SignWithLabel contents. */
export function testKeyPackage(key: TestDeviceKey, userId: UserId, deviceId: DeviceId, options: TestKeyPackageOptions = {}): Uint8Array {
  const now = Math.floor(Date.now() / 1000);
  const fields: Omit<KeyPackageFields, 'signature' | 'leafNode'> & { leafNode: Omit<KeyPackageFields['leafNode'], 'signature'> } = {
    cipherSuite: options.cipherSuite ?? 1,
    initKey: randomBytes(32),
    leafNode: {
      encryptionKey: randomBytes(32),
      signatureKey: options.signatureKey ?? key.publicKey,
      credential: { type: 'basic', identity: new TextEncoder().encode(options.identity ?? `parley1:${userId}:${deviceId}`) },
      capabilities: { versions: [1], cipherSuites: [options.cipherSuite ?? 1], extensions: [LAST_RESORT_EXTENSION], proposals: [], credentials: [1] },
      lifetime: { notBefore: BigInt(now - 3600), notAfter: BigInt(options.notAfter ?? now + 90 * 86400) },
      extensions: [],
    },
    extensions: options.lastResort ? [{ type: LAST_RESORT_EXTENSION, data: new Uint8Array(0) }] : [],
  };
  return buildKeyPackage(fields, (content) => (options.badSignature ? randomBytes(64) : key.sign(content)));
}
