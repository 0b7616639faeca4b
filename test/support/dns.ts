// A minimal DNS client over UDP (RFC 1035), enough to read registrator's records back through a
// real DNS server: one question, A and SRV answers, the response code. No dig needed.
import { createSocket } from "node:dgram";

export type DnsType = "A" | "SRV";
const TYPE_CODE: Record<DnsType, number> = { A: 1, SRV: 33 };

export interface DnsAnswer {
  name: string;
  type: number;
  ttl: number;
  /** A: the address. */
  address?: string;
  /** SRV: priority, weight, port and target. */
  srv?: { priority: number; weight: number; port: number; target: string };
}

export interface DnsReply {
  /** 0 NOERROR, 3 NXDOMAIN, … */
  rcode: number;
  answers: DnsAnswer[];
}

export const NOERROR = 0;
export const NXDOMAIN = 3;

function encodeName(name: string): Uint8Array {
  const out: number[] = [];
  for (const label of name.replace(/\.$/, "").split(".")) {
    const bytes = new TextEncoder().encode(label);
    if (bytes.length === 0 || bytes.length > 63) throw new Error(`Bad DNS label in "${name}"`);
    out.push(bytes.length, ...bytes);
  }
  out.push(0);
  return Uint8Array.from(out);
}

/** A name at `offset` (with compression pointers) and the offset after it in the message. */
function readName(msg: Buffer, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let next = -1;
  for (let jumps = 0; jumps < 64; jumps++) {
    const len = msg[offset];
    if (len === undefined) throw new Error("DNS reply truncated in a name");
    if (len === 0) {
      if (next < 0) next = offset + 1;
      return { name: labels.join(".") + ".", next };
    }
    if ((len & 0xc0) === 0xc0) {
      if (next < 0) next = offset + 2;
      offset = ((len & 0x3f) << 8) | msg[offset + 1]!;
      continue;
    }
    labels.push(msg.subarray(offset + 1, offset + 1 + len).toString("latin1"));
    offset += 1 + len;
  }
  throw new Error("DNS reply has a compression loop");
}

function parseReply(msg: Buffer, id: number): DnsReply {
  if (msg.length < 12 || msg.readUInt16BE(0) !== id) throw new Error("Not the reply to our query");
  const rcode = msg[3]! & 0x0f;
  const qd = msg.readUInt16BE(4);
  const an = msg.readUInt16BE(6);
  let off = 12;
  for (let i = 0; i < qd; i++) off = readName(msg, off).next + 4;
  const answers: DnsAnswer[] = [];
  for (let i = 0; i < an; i++) {
    const { name, next } = readName(msg, off);
    const type = msg.readUInt16BE(next);
    const ttl = msg.readUInt32BE(next + 4);
    const len = msg.readUInt16BE(next + 8);
    const data = next + 10;
    const a: DnsAnswer = { name, type, ttl };
    if (type === TYPE_CODE.A && len === 4) a.address = [...msg.subarray(data, data + 4)].join(".");
    if (type === TYPE_CODE.SRV) {
      a.srv = { priority: msg.readUInt16BE(data), weight: msg.readUInt16BE(data + 2), port: msg.readUInt16BE(data + 4), target: readName(msg, data + 6).name };
    }
    answers.push(a);
    off = data + len;
  }
  return { rcode, answers };
}

/** Asks `server:port` (UDP) for `name`'s records of `type`; rejects after `timeoutMs` without a reply. */
export function dnsQuery(server: string, port: number, name: string, type: DnsType, timeoutMs = 2000): Promise<DnsReply> {
  const id = Math.floor(Math.random() * 0xffff);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2); // recursion desired, as dig asks
  header.writeUInt16BE(1, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(TYPE_CODE[type], 0);
  tail.writeUInt16BE(1, 2); // class IN
  const query = Buffer.concat([header, encodeName(name), tail]);
  return new Promise((resolve, reject) => {
    const sock = createSocket(server.includes(":") ? "udp6" : "udp4");
    const timer = setTimeout(() => done(new Error(`No DNS reply from ${server}:${port} for ${name} ${type} within ${timeoutMs} ms`)), timeoutMs);
    const done = (err: Error | undefined, reply?: DnsReply) => {
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve(reply!);
    };
    sock.on("error", (e) => done(e));
    sock.on("message", (msg) => {
      try {
        done(undefined, parseReply(msg, id));
      } catch {
        // Not ours (or garbled): keep waiting for the reply until the timer fires.
      }
    });
    sock.send(query, port, server);
  });
}
