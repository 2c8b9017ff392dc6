import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { buildKeyPackage, encodeKeyPackage, KeyPackageError, mlsSignContent, readKeyPackage, type KeyPackageFields } from './key-package.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));

/**
 * A last-resort KeyPackage made by ts-mls (packages/crypto) for
 * parley1:AAAAAAAAAAAAAAAAAAAAAA:BBBBBBBBBBBBBBBBBBBBBB: an independent
 * implementation's bytes, so the reader is not only checked against its own writer.
 */
const TS_MLS_KEY_PACKAGE = hex(
  '0001000500010001203d6846ae355d533e6545098e74c274a6683755f96d66a3fbf2ff2c4e5663367e20c23a1e9ed2b351b5e2b2ed9f72c0284e246801621e33f0f742d2cce776957144207f5e47cc1826619e4c5fcaf181f3293127d1097e0afe58e3c5ee1c6d38894ca90001357061726c6579313a414141414141414141414141414141414141414141413a4242424242424242424242424242424242424242424202000102000102000a0002000101000000006b0fe9f0000000006b87e270004040e9999ccd26a9a64f6db55ca1205a104e8f7df85ca4f80b0a4f6ae8be898c4a51a56cf28fa93440c46e12cae7c82a79b6d2afcf3a677fc9fa77b4a17a095ba10203000a0040408ca52679e409dc7fbace52c014ce314e5728a4d89ea9d0cdafd44d4ea51890f2a59c4cc62c1afa72af557ccb06de931e0fd08b1112c43fb2e76ca27dea711a0e',
);
const TS_MLS_SIGNATURE_KEY = hex('7f5e47cc1826619e4c5fcaf181f3293127d1097e0afe58e3c5ee1c6d38894ca9');

/** Plain objects (fast-check's default null prototype would not deep-equal what the reader builds). */
const rec = <T extends object>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> => fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>;
const bytes = (max = 64) => fc.uint8Array({ maxLength: max });
const u16s = fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 6 });
const extensions = fc.array(rec({ type: fc.integer({ min: 0, max: 0xffff }), data: bytes(40) }), { maxLength: 4 });
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });

const fields: fc.Arbitrary<KeyPackageFields> = rec({
  cipherSuite: fc.integer({ min: 0, max: 0xffff }),
  initKey: bytes(),
  leafNode: rec({
    encryptionKey: bytes(),
    signatureKey: bytes(),
    credential: fc.oneof(
      rec({ type: fc.constant('basic' as const), identity: bytes(80) }),
      rec({ type: fc.constant('x509' as const), certificates: fc.array(bytes(100), { maxLength: 3 }) }),
    ),
    capabilities: rec({ versions: u16s, cipherSuites: u16s, extensions: u16s, proposals: u16s, credentials: u16s }),
    lifetime: rec({ notBefore: u64, notAfter: u64 }),
    extensions,
    signature: bytes(),
  }),
  extensions,
  // Long enough, sometimes, for a two-byte length prefix (four-byte ones: see below).
  signature: fc.oneof(bytes(), fc.uint8Array({ minLength: 64, maxLength: 300 })),
});

/** Drops the reader's extra fields so a parse compares with what was written. */
function strip(p: ReturnType<typeof readKeyPackage>): KeyPackageFields {
  const { tbs: _tbs, leafNodeTbs: _leafTbs, ...rest } = p;
  return rest;
}

describe('KeyPackage reader', () => {
  it('reads a ts-mls KeyPackage: ciphersuite, credential, key, lifetime, extensions; re-encodes to the same bytes', () => {
    const p = readKeyPackage(TS_MLS_KEY_PACKAGE);
    assert.equal(p.cipherSuite, 1);
    assert.deepEqual(p.leafNode.credential, { type: 'basic', identity: new TextEncoder().encode('parley1:AAAAAAAAAAAAAAAAAAAAAA:BBBBBBBBBBBBBBBBBBBBBB') });
    assert.deepEqual(p.leafNode.signatureKey, TS_MLS_SIGNATURE_KEY);
    assert.equal(p.leafNode.encryptionKey.length, 32);
    assert.equal(p.initKey.length, 32);
    assert.ok(p.leafNode.lifetime.notAfter > p.leafNode.lifetime.notBefore);
    assert.deepEqual(p.leafNode.capabilities, { versions: [1], cipherSuites: [1], extensions: [10], proposals: [], credentials: [1] });
    assert.deepEqual(p.extensions, [{ type: 10, data: new Uint8Array(0) }], 'the last_resort extension');
    assert.equal(p.signature.length, 64);
    assert.equal(p.leafNode.signature.length, 64);
    assert.deepEqual(encodeKeyPackage(p), TS_MLS_KEY_PACKAGE);
    // The signed parts are exactly the package minus its wrapper and trailing signature.
    assert.deepEqual(p.tbs, TS_MLS_KEY_PACKAGE.subarray(4, TS_MLS_KEY_PACKAGE.length - 66));
  });

  it('round-trips any well-formed KeyPackage (property)', () => {
    fc.assert(
      fc.property(fields, (f) => {
        const encoded = encodeKeyPackage(f);
        const back = readKeyPackage(encoded);
        assert.deepEqual(strip(back), f);
        assert.deepEqual(encodeKeyPackage(back), encoded);
      }),
      { numRuns: 300 },
    );
    // Four-byte length prefixes (16 KiB and more), which the random sizes above do not reach.
    const big = { ...strip(readKeyPackage(TS_MLS_KEY_PACKAGE)), signature: new Uint8Array(16_384).fill(7) };
    const encoded = encodeKeyPackage(big);
    assert.equal(encoded.length, TS_MLS_KEY_PACKAGE.length - 66 + 4 + 16_384);
    assert.deepEqual(strip(readKeyPackage(encoded)), big);
  });

  it('hands the signer exactly the SignWithLabel contents the reader reports', () => {
    fc.assert(
      fc.property(fields, (f) => {
        const seen: Uint8Array[] = [];
        let n = 0;
        const encoded = buildKeyPackage(f, (content) => {
          seen.push(content);
          return Uint8Array.of(++n, n, n);
        });
        const p = readKeyPackage(encoded);
        assert.deepEqual(seen, [mlsSignContent('LeafNodeTBS', p.leafNodeTbs), mlsSignContent('KeyPackageTBS', p.tbs)]);
        assert.deepEqual(p.leafNode.signature, Uint8Array.of(1, 1, 1));
        assert.deepEqual(p.signature, Uint8Array.of(2, 2, 2));
      }),
      { numRuns: 100 },
    );
  });

  it('throws only KeyPackageError on random bytes', () => {
    fc.assert(
      fc.property(fc.oneof(bytes(600), bytes(8).map((b) => Uint8Array.of(0, 1, 0, 5, ...b))), (b) => {
        try {
          readKeyPackage(b);
        } catch (err) {
          assert.ok(err instanceof KeyPackageError, String(err));
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('on mutated packages, either throws KeyPackageError or reads something that re-encodes to the mutated bytes (no lenient parse)', () => {
    const mutated = fc.tuple(fc.oneof(fields.map(encodeKeyPackage), fc.constant(TS_MLS_KEY_PACKAGE)), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.integer({ min: -3, max: 3 }));
    fc.assert(
      fc.property(mutated, ([good, flips, cut]) => {
        let b = Uint8Array.from(good);
        for (const [pos, v] of flips) b[pos % b.length] = v;
        if (cut < 0) b = b.subarray(0, Math.max(0, b.length + cut));
        if (cut > 0) b = Uint8Array.of(...b, ...new Uint8Array(cut));
        try {
          const p = readKeyPackage(b);
          assert.deepEqual(encodeKeyPackage(p), b);
        } catch (err) {
          assert.ok(err instanceof KeyPackageError, String(err));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses other messages, leaf sources, credential types, versions and trailing bytes with reasons', () => {
    const good = TS_MLS_KEY_PACKAGE;
    const refuse = (b: Uint8Array, re: RegExp) => assert.throws(() => readKeyPackage(b), (e: unknown) => e instanceof KeyPackageError && re.test(e.message));
    refuse(Uint8Array.of(...good, 0), /trailing/);
    refuse(good.subarray(0, good.length - 1), /overruns|truncated/);
    const welcome = Uint8Array.from(good);
    welcome[3] = 3;
    refuse(welcome, /not a KeyPackage/);
    const v2 = Uint8Array.from(good);
    v2[5] = 2;
    refuse(v2, /version/);
    const f = readKeyPackage(good);
    refuse(encodeKeyPackage(f).map((x, i, a) => (i === indexOfCredentialType(a) + 1 ? 7 : x)), /credential type 7/);
    // A leaf node source other than key_package (source byte follows the capabilities).
    const src = Uint8Array.from(good);
    // ... followed by the lifetime (16 bytes) and the empty leaf extensions (1 byte), at the end of the LeafNodeTBS.
    const at = f.leafNodeTbs.byteOffset - good.byteOffset + f.leafNodeTbs.length - 18;
    assert.equal(src[at], 1);
    src[at] = 2;
    refuse(src, /source key_package/);
    refuse(new Uint8Array(70_000), /too large/);
    refuse(Uint8Array.of(0, 1, 0, 5, 0, 1, 0, 1, 0x40, 0x05), /non-minimal/);
  });
});

/** Offset of the credential_type field in an encoded KeyPackage (after two vectors of the leaf). */
function indexOfCredentialType(b: Uint8Array): number {
  let o = 8; // wrapper (4) + version (2) + cipher suite (2)
  const skipVector = () => {
    const first = b[o] ?? 0;
    const len = first >> 6 === 0 ? first : (((first & 0x3f) << 8) | (b[o + 1] ?? 0));
    o += (first >> 6 === 0 ? 1 : 2) + len;
  };
  skipVector(); // init_key
  skipVector(); // encryption_key
  skipVector(); // signature_key
  return o;
}
