// Lines to stdout and stderr. A synchronous write to the file descriptor: process.stdout and
// process.stderr are Node streams whose first use loads the streams machinery, milliseconds on the
// path to the first registration and of `-version` (bench/startup.ts), and a log line written
// before a crash is a line not lost in a buffer. A descriptor that cannot take the bytes now (a
// non-blocking pipe that is full) falls back to the stream for good, so lines keep their order.
import { writeSync } from "node:fs";

type Fd = 1 | 2;
const buffered = new Set<Fd>();

function stream(fd: Fd): { write(s: string | Uint8Array): unknown } {
  return fd === 1 ? process.stdout : process.stderr;
}

const encoder = new TextEncoder();

/** Writes all of `text` to stdout (1) or stderr (2). */
export function writeOut(fd: Fd, text: string): void {
  if (buffered.has(fd)) {
    stream(fd).write(text);
    return;
  }
  let bytes = encoder.encode(text);
  try {
    while (bytes.length > 0) {
      const n = writeSync(fd, bytes);
      bytes = bytes.subarray(n);
    }
  } catch (e) {
    if ((e as { code?: string }).code !== "EAGAIN") return; // stdout closed (EPIPE, EBADF): nowhere to write
    buffered.add(fd);
    stream(fd).write(bytes);
  }
}
