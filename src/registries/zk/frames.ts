// ZooKeeper's framing: every packet is a big-endian int32 length and that many bytes. TCP hands
// them over in arbitrary chunks; this joins them in linear time (each byte is copied at most once
// into a packet, however many chunks a large reply arrives in).

export class FrameError extends Error {
  override name = "FrameError";
}

export class FrameReader {
  private chunks: Uint8Array[] = [];
  private total = 0;
  /** Bytes copied while joining chunks (for tests and benchmarks). */
  copied = 0;

  constructor(private readonly maxPacket = 64 * 1024 * 1024) {}

  /** Adds `chunk` and returns every packet it completes, in order (without their length prefix). */
  push(chunk: Uint8Array): Uint8Array[] {
    if (chunk.length) {
      this.chunks.push(chunk);
      this.total += chunk.length;
    }
    const out: Uint8Array[] = [];
    while (this.total >= 4) {
      const len = this.peekLength();
      if (len < 0 || len > this.maxPacket) throw new FrameError(`bad packet length ${len}`);
      if (this.total < 4 + len) break;
      this.take(4);
      out.push(this.take(len));
    }
    return out;
  }

  private peekLength(): number {
    const first = this.chunks[0]!;
    if (first.length >= 4) return new DataView(first.buffer, first.byteOffset, first.byteLength).getInt32(0);
    const head = new Uint8Array(4);
    let n = 0;
    for (const c of this.chunks) {
      const part = c.subarray(0, 4 - n);
      head.set(part, n);
      n += part.length;
      if (n === 4) break;
    }
    return new DataView(head.buffer).getInt32(0);
  }

  /** The next `n` bytes: a view when they sit in one chunk, else one copy. */
  private take(n: number): Uint8Array {
    this.total -= n;
    const first = this.chunks[0];
    if (n === 0) return new Uint8Array(0);
    if (first && first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return out;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const part = c.subarray(0, n - filled);
      out.set(part, filled);
      filled += part.length;
      this.copied += part.length;
      if (part.length === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(part.length);
    }
    return out;
  }
}
