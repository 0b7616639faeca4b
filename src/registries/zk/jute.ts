// Jute, ZooKeeper's binary record encoding: big-endian int32/int64, one-byte booleans, and
// length-prefixed buffers and strings (length -1 = null). Vectors are a count then the items.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class JuteWriter {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  private len = 0;

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  int(n: number): this {
    this.room(4);
    this.view.setInt32(this.len, n);
    this.len += 4;
    return this;
  }

  long(n: bigint): this {
    this.room(8);
    this.view.setBigInt64(this.len, n);
    this.len += 8;
    return this;
  }

  bool(b: boolean): this {
    this.room(1);
    this.buf[this.len++] = b ? 1 : 0;
    return this;
  }

  buffer(b: Uint8Array | null): this {
    if (b === null) return this.int(-1);
    this.int(b.length);
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  string(s: string | null): this {
    return this.buffer(s === null ? null : encoder.encode(s));
  }

  /** The bytes written so far. */
  bytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }

  /** The bytes preceded by their int32 length: one packet on the wire. */
  frame(): Uint8Array {
    const out = new Uint8Array(4 + this.len);
    new DataView(out.buffer).setInt32(0, this.len);
    out.set(this.buf.subarray(0, this.len), 4);
    return out;
  }
}

export class JuteError extends Error {
  override name = "JuteError";
}

export class JuteReader {
  private pos = 0;
  private readonly view: DataView;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) {
      throw new JuteError(`truncated record: need ${n} bytes at offset ${this.pos}, have ${this.remaining}`);
    }
  }

  int(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos);
    this.pos += 4;
    return v;
  }

  long(): bigint {
    this.need(8);
    const v = this.view.getBigInt64(this.pos);
    this.pos += 8;
    return v;
  }

  bool(): boolean {
    this.need(1);
    return this.buf[this.pos++] !== 0;
  }

  buffer(): Uint8Array | null {
    const n = this.int();
    if (n < 0) return null;
    this.need(n);
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  string(): string | null {
    const b = this.buffer();
    return b === null ? null : decoder.decode(b);
  }
}
