/**
 * A minimal length-prefixed binary codec for Parley's own local formats
 * (identity export, stored key packages, group state envelopes, the safety
 * number input). MLS wire formats are never built here: they come from the
 * MLS library. The reader is strict: every read is bounds-checked and the
 * caller must consume the input exactly.
 */

import { concatBytes } from '@parley/protocol';

export class ByteDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ByteDecodeError';
  }
}

export class ByteWriter {
  private readonly parts: Uint8Array[] = [];

  u8(value: number): this {
    return this.push(Uint8Array.of(value & 0xff));
  }

  u16(value: number): this {
    return this.push(Uint8Array.of((value >>> 8) & 0xff, value & 0xff));
  }

  u32(value: number): this {
    return this.push(Uint8Array.of((value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff));
  }

  raw(bytes: Uint8Array): this {
    return this.push(bytes.slice());
  }

  /** uint32 length followed by the bytes. */
  bytes(bytes: Uint8Array): this {
    return this.u32(bytes.length).raw(bytes);
  }

  string(text: string): this {
    return this.bytes(new TextEncoder().encode(text));
  }

  finish(): Uint8Array {
    return concatBytes(this.parts);
  }

  private push(bytes: Uint8Array): this {
    this.parts.push(bytes);
    return this;
  }
}

export class ByteReader {
  private offset = 0;
  constructor(private readonly input: Uint8Array) {}

  u8(): number {
    const v = this.input[this.offset];
    if (v === undefined) throw new ByteDecodeError('truncated');
    this.offset += 1;
    return v;
  }

  u16(): number {
    return (this.u8() << 8) | this.u8();
  }

  u32(): number {
    return ((this.u16() << 16) >>> 0) + this.u16();
  }

  raw(length: number): Uint8Array {
    if (length < 0 || this.offset + length > this.input.length) throw new ByteDecodeError('truncated');
    const out = this.input.slice(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  bytes(maxLength: number): Uint8Array {
    const length = this.u32();
    if (length > maxLength) throw new ByteDecodeError(`field longer than ${maxLength} bytes`);
    return this.raw(length);
  }

  string(maxBytes: number): string {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(this.bytes(maxBytes));
    } catch (err) {
      if (err instanceof ByteDecodeError) throw err;
      throw new ByteDecodeError('invalid UTF-8');
    }
  }

  get remaining(): number {
    return this.input.length - this.offset;
  }

  /** Throws unless every byte was consumed: trailing garbage is an error, not ignored. */
  end(): void {
    if (this.offset !== this.input.length) throw new ByteDecodeError('trailing bytes');
  }
}
