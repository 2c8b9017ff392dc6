/**
 * Reads the TLS presentation language as RFC 9420 uses it (§2.1): big-endian
 * integers, minimal variable-length integers and vectors prefixed by one.
 * Every failure is thrown as the caller's error class, so each format keeps
 * its own errors.
 */
export class TlsReader {
  offset = 0;

  constructor(
    readonly bytes: Uint8Array,
    private readonly fail: new (message: string) => Error,
  ) {}

  u8(): number {
    const v = this.bytes[this.offset];
    if (v === undefined) throw new this.fail('truncated');
    this.offset += 1;
    return v;
  }

  u16(): number {
    return (this.u8() << 8) | this.u8();
  }

  u32(): number {
    return ((this.u16() << 16) >>> 0) + this.u16();
  }

  u64(): bigint {
    let v = 0n;
    for (let i = 0; i < 8; i++) v = (v << 8n) | BigInt(this.u8());
    return v;
  }

  /** RFC 9420 §2.1.2 variable-length integer (QUIC style, at most 30 bits), minimal encoding only. */
  varint(): number {
    const first = this.u8();
    const prefix = first >> 6;
    if (prefix === 0) return first & 0x3f;
    if (prefix === 1) {
      const v = ((first & 0x3f) << 8) | this.u8();
      if (v < 64) throw new this.fail('non-minimal varint');
      return v;
    }
    if (prefix === 2) {
      const v = (((first & 0x3f) << 24) >>> 0) + ((this.u8() << 16) | (this.u8() << 8) | this.u8());
      if (v < 16384) throw new this.fail('non-minimal varint');
      return v;
    }
    throw new this.fail('invalid varint prefix');
  }

  vector(): Uint8Array {
    const len = this.varint();
    if (this.offset + len > this.bytes.length) throw new this.fail('vector overruns message');
    const out = this.bytes.subarray(this.offset, this.offset + len);
    this.offset += len;
    return out;
  }

  /** A vector whose content is a sequence of items, each read by `item` from a sub-reader. */
  list<T>(item: (r: TlsReader) => T): T[] {
    const r = new TlsReader(this.vector(), this.fail);
    const out: T[] = [];
    while (r.offset < r.bytes.length) out.push(item(r));
    return out;
  }
}
