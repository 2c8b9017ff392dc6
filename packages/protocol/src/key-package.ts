import { MLS_VERSION_10, WIRE_FORMAT } from './mls-framing.js';
import { TlsReader } from './tls-reader.js';

/**
 * Reads the public structure of an MLS KeyPackage (RFC 9420 §10), wrapped as
 * an MLSMessage, so the server can bind KeyPackages to the device that
 * uploads them: the leaf's credential, its signature key, the ciphersuite and
 * the lifetime, plus the exact signed bytes (KeyPackageTBS, LeafNodeTBS) for
 * a signature check. Nothing here is secret and nothing is decrypted; the
 * reader is strict (minimal varints, no trailing bytes) and throws only
 * KeyPackageError. It also writes KeyPackages, for tests and tools that need
 * well-formed ones without an MLS library.
 */

export const CREDENTIAL_TYPE = { basic: 1, x509: 2 } as const;
export const LEAF_NODE_SOURCE = { key_package: 1, update: 2, commit: 3 } as const;
/** Largest KeyPackage the reader looks at (uploads are capped far below this). */
export const MAX_KEY_PACKAGE_READ_BYTES = 64 * 1024;

export class KeyPackageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyPackageError';
  }
}

export interface MlsExtension {
  type: number;
  data: Uint8Array;
}

export interface MlsCapabilities {
  versions: number[];
  cipherSuites: number[];
  extensions: number[];
  proposals: number[];
  credentials: number[];
}

/** A basic credential carries identity bytes; an X.509 one a chain of certificates. */
export type MlsCredential = { type: 'basic'; identity: Uint8Array } | { type: 'x509'; certificates: Uint8Array[] };

export interface KeyPackageLeafNode {
  encryptionKey: Uint8Array;
  signatureKey: Uint8Array;
  credential: MlsCredential;
  capabilities: MlsCapabilities;
  /** A KeyPackage's leaf always has source key_package, hence a lifetime (unix seconds). */
  lifetime: { notBefore: bigint; notAfter: bigint };
  extensions: MlsExtension[];
  signature: Uint8Array;
}

/** The fields of a KeyPackage, signatures included. */
export interface KeyPackageFields {
  cipherSuite: number;
  initKey: Uint8Array;
  leafNode: KeyPackageLeafNode;
  extensions: MlsExtension[];
  signature: Uint8Array;
}

export interface ParsedKeyPackage extends KeyPackageFields {
  /** The KeyPackageTBS bytes, signed by the leaf's key under the label "KeyPackageTBS". */
  tbs: Uint8Array;
  /** The LeafNodeTBS bytes, signed by the leaf's key under the label "LeafNodeTBS". */
  leafNodeTbs: Uint8Array;
}

/* ---------- reading ---------- */

const u16List = (r: TlsReader): number[] => {
  const inner = r.vector();
  if (inner.length % 2 !== 0) throw new KeyPackageError('odd-length uint16 list');
  const out: number[] = [];
  for (let i = 0; i < inner.length; i += 2) out.push(((inner[i] ?? 0) << 8) | (inner[i + 1] ?? 0));
  return out;
};

const extension = (r: TlsReader): MlsExtension => ({ type: r.u16(), data: r.vector() });

function readCredential(r: TlsReader): MlsCredential {
  const type = r.u16();
  if (type === CREDENTIAL_TYPE.basic) return { type: 'basic', identity: r.vector() };
  if (type === CREDENTIAL_TYPE.x509) return { type: 'x509', certificates: r.list((c) => c.vector()) };
  throw new KeyPackageError(`unsupported credential type ${type}`);
}

function readLeafNode(r: TlsReader): { leaf: KeyPackageLeafNode; tbs: Uint8Array } {
  const start = r.offset;
  const encryptionKey = r.vector();
  const signatureKey = r.vector();
  const credential = readCredential(r);
  const capabilities: MlsCapabilities = {
    versions: u16List(r),
    cipherSuites: u16List(r),
    extensions: u16List(r),
    proposals: u16List(r),
    credentials: u16List(r),
  };
  const source = r.u8();
  if (source !== LEAF_NODE_SOURCE.key_package) throw new KeyPackageError(`a KeyPackage's leaf must have source key_package, not ${source}`);
  const lifetime = { notBefore: r.u64(), notAfter: r.u64() };
  const extensions = r.list(extension);
  // For source key_package, LeafNodeTBS is exactly the leaf's fields before the signature.
  const tbs = r.bytes.subarray(start, r.offset);
  const signature = r.vector();
  return { leaf: { encryptionKey, signatureKey, credential, capabilities, lifetime, extensions, signature }, tbs };
}

/**
 * Parses an MLSMessage carrying a KeyPackage (version mls10, wire format
 * mls_key_package). Throws KeyPackageError on anything else, including
 * trailing bytes.
 */
export function readKeyPackage(message: Uint8Array): ParsedKeyPackage {
  if (!(message instanceof Uint8Array)) throw new KeyPackageError('not bytes');
  if (message.length > MAX_KEY_PACKAGE_READ_BYTES) throw new KeyPackageError('KeyPackage too large');
  const r = new TlsReader(message, KeyPackageError);
  if (r.u16() !== MLS_VERSION_10) throw new KeyPackageError('unsupported MLS version');
  if (r.u16() !== WIRE_FORMAT.key_package) throw new KeyPackageError('not a KeyPackage message');
  const start = r.offset;
  if (r.u16() !== MLS_VERSION_10) throw new KeyPackageError('unsupported KeyPackage version');
  const cipherSuite = r.u16();
  const initKey = r.vector();
  const { leaf, tbs: leafNodeTbs } = readLeafNode(r);
  const extensions = r.list(extension);
  const tbs = message.subarray(start, r.offset);
  const signature = r.vector();
  if (r.offset !== message.length) throw new KeyPackageError('trailing bytes after the KeyPackage');
  return { cipherSuite, initKey, leafNode: leaf, extensions, signature, tbs, leafNodeTbs };
}

/* ---------- writing ---------- */

function varint(n: number): number[] {
  if (!Number.isInteger(n) || n < 0 || n >= 2 ** 30) throw new KeyPackageError('length out of range');
  if (n < 64) return [n];
  if (n < 16384) return [0x40 | (n >> 8), n & 0xff];
  return [0x80 | ((n >>> 24) & 0x3f), (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
}

class Writer {
  private readonly chunks: number[] = [];
  u8(v: number): this {
    this.chunks.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    return this.u8(v >> 8).u8(v);
  }
  u64(v: bigint): this {
    for (let i = 7; i >= 0; i--) this.u8(Number((v >> BigInt(8 * i)) & 0xffn));
    return this;
  }
  raw(b: Uint8Array): this {
    for (const x of b) this.chunks.push(x);
    return this;
  }
  vector(b: Uint8Array): this {
    for (const x of varint(b.length)) this.chunks.push(x);
    return this.raw(b);
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

const writeU16List = (w: Writer, list: readonly number[]): Writer => {
  const inner = new Writer();
  for (const v of list) inner.u16(v);
  return w.vector(inner.bytes());
};

const writeExtensions = (w: Writer, list: readonly MlsExtension[]): Writer => {
  const inner = new Writer();
  for (const e of list) inner.u16(e.type).vector(e.data);
  return w.vector(inner.bytes());
};

function leafNodeTbsOf(leaf: Omit<KeyPackageLeafNode, 'signature'>): Uint8Array {
  const w = new Writer().vector(leaf.encryptionKey).vector(leaf.signatureKey);
  if (leaf.credential.type === 'basic') {
    w.u16(CREDENTIAL_TYPE.basic).vector(leaf.credential.identity);
  } else {
    const certs = new Writer();
    for (const c of leaf.credential.certificates) certs.vector(c);
    w.u16(CREDENTIAL_TYPE.x509).vector(certs.bytes());
  }
  const c = leaf.capabilities;
  for (const list of [c.versions, c.cipherSuites, c.extensions, c.proposals, c.credentials]) writeU16List(w, list);
  w.u8(LEAF_NODE_SOURCE.key_package).u64(leaf.lifetime.notBefore).u64(leaf.lifetime.notAfter);
  return writeExtensions(w, leaf.extensions).bytes();
}

function keyPackageTbsOf(kp: Omit<KeyPackageFields, 'signature'>): Uint8Array {
  const w = new Writer().u16(MLS_VERSION_10).u16(kp.cipherSuite).vector(kp.initKey);
  w.raw(leafNodeTbsOf(kp.leafNode)).vector(kp.leafNode.signature);
  return writeExtensions(w, kp.extensions).bytes();
}

/** Encodes a KeyPackage, signatures as given, as an MLSMessage. */
export function encodeKeyPackage(kp: KeyPackageFields): Uint8Array {
  return new Writer().u16(MLS_VERSION_10).u16(WIRE_FORMAT.key_package).raw(keyPackageTbsOf(kp)).vector(kp.signature).bytes();
}

/**
 * RFC 9420 §5.1.2 SignWithLabel: the bytes a signature scheme actually signs,
 * struct { opaque label<V> = "MLS 1.0 " + label; opaque content<V>; }.
 */
export function mlsSignContent(label: string, content: Uint8Array): Uint8Array {
  return new Writer().vector(new TextEncoder().encode(`MLS 1.0 ${label}`)).vector(content).bytes();
}

/**
 * Builds and signs a KeyPackage: `sign` receives the SignWithLabel content
 * (see mlsSignContent) of the leaf, then of the package, and returns the
 * signature by the leaf's signature key.
 */
export function buildKeyPackage(
  unsigned: Omit<KeyPackageFields, 'signature' | 'leafNode'> & { leafNode: Omit<KeyPackageLeafNode, 'signature'> },
  sign: (content: Uint8Array) => Uint8Array,
): Uint8Array {
  const leafNode: KeyPackageLeafNode = { ...unsigned.leafNode, signature: sign(mlsSignContent('LeafNodeTBS', leafNodeTbsOf(unsigned.leafNode))) };
  const withLeaf = { ...unsigned, leafNode };
  return encodeKeyPackage({ ...withLeaf, signature: sign(mlsSignContent('KeyPackageTBS', keyPackageTbsOf(withLeaf))) });
}
