import { expand, extract } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ciphersuites, getCiphersuiteFromName, getCiphersuiteImpl } from 'ts-mls';
import type { CiphersuiteImpl, CiphersuiteName } from 'ts-mls';

/**
 * Ciphersuites Parley accepts, by their RFC 9420 id. Only suites whose
 * primitives run on WebCrypto in both Node 20 and current browsers (with
 * @noble fallbacks inside ts-mls) are listed.
 */
export const MLS_CIPHERSUITES = {
  MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519: 1,
} as const;

export type MlsCiphersuiteName = keyof typeof MLS_CIPHERSUITES;
export type MlsCiphersuiteId = (typeof MLS_CIPHERSUITES)[MlsCiphersuiteName];

export const DEFAULT_CIPHERSUITE: MlsCiphersuiteId = MLS_CIPHERSUITES.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;

export function isSupportedCiphersuite(id: number): id is MlsCiphersuiteId {
  return Object.values(MLS_CIPHERSUITES).some((v) => v === id);
}

export function ciphersuiteName(id: MlsCiphersuiteId): CiphersuiteName {
  for (const [name, value] of Object.entries(ciphersuites)) {
    if (value === id) return name as CiphersuiteName;
  }
  // Unreachable: MlsCiphersuiteId is a subset of ts-mls's table.
  throw new RangeError(`unknown ciphersuite ${id}`);
}

export function ciphersuiteId(name: CiphersuiteName): number {
  return ciphersuites[name];
}

const impls = new Map<MlsCiphersuiteId, Promise<CiphersuiteImpl>>();

/** The ciphersuite implementation, created once per suite (it only wraps stateless primitives). */
export function suiteImpl(id: MlsCiphersuiteId): Promise<CiphersuiteImpl> {
  let impl = impls.get(id);
  if (impl === undefined) {
    const suite = getCiphersuiteFromName(ciphersuiteName(id));
    impl = getCiphersuiteImpl(suite).then((cs) => (suite.hash === 'SHA-256' && suite.hpke.kdf === 'HKDF-SHA256' ? withSyncHmac(cs) : cs));
    impls.set(id, impl);
  }
  return impl;
}

/**
 * The suite with HMAC-SHA256 and HKDF computed in place (@noble/hashes)
 * instead of through WebCrypto. Every message key in MLS comes out of a few
 * HKDF expansions over short inputs: WebCrypto makes each of them an import,
 * a job on another thread and a promise to wait for, which dominated
 * decrypting a backlog. The results are the same bytes (suite.test.ts checks
 * them against WebCrypto); digests, AEAD, HPKE and signatures stay native.
 */
export function withSyncHmac(cs: CiphersuiteImpl): CiphersuiteImpl {
  return {
    ...cs,
    kdf: {
      ...cs.kdf,
      extract: async (salt, ikm) => extract(sha256, ikm, salt),
      expand: async (prk, info, len) => expand(sha256, prk, info, len),
    },
    hash: {
      ...cs.hash,
      mac: async (key, data) => hmac(sha256, key, data),
      verifyMac: async (key, mac, data) => constantTimeEqual(hmac(sha256, key, data), mac),
    },
  };
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

export interface SignatureKeyPair {
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

/** A fresh signature key pair of the suite's signature scheme. */
export async function generateSignatureKeyPair(id: MlsCiphersuiteId): Promise<SignatureKeyPair> {
  const cs = await suiteImpl(id);
  const { publicKey, signKey } = await cs.signature.keygen();
  return { publicKey, privateKey: signKey };
}

/**
 * True when privateKey signs what publicKey verifies: run on import, so a
 * corrupted or mismatched stored key fails at load time, not at first send.
 */
export async function signatureKeysMatch(id: MlsCiphersuiteId, keys: SignatureKeyPair): Promise<boolean> {
  const cs = await suiteImpl(id);
  const probe = crypto.getRandomValues(new Uint8Array(32));
  try {
    const sig = await cs.signature.sign(keys.privateKey, probe);
    return await cs.signature.verify(keys.publicKey, probe, sig);
  } catch {
    return false;
  }
}

/** The suite's signature primitive over raw bytes (no MLS label): for messages outside MLS, e.g. sign-in challenges. */
export async function signBytes(id: MlsCiphersuiteId, privateKey: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
  const cs = await suiteImpl(id);
  return cs.signature.sign(privateKey, message);
}

/** Verifies a signBytes signature; false (never throws) for a bad signature or a malformed key. */
export async function verifyBytes(id: MlsCiphersuiteId, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  const cs = await suiteImpl(id);
  try {
    return await cs.signature.verify(publicKey, message, signature);
  } catch {
    return false;
  }
}
