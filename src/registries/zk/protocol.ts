// ZooKeeper wire protocol constants and records (the subset registrator needs).
// Packet = int32 length + payload. Requests: RequestHeader {int xid, int type} + body.
// Replies: ReplyHeader {int xid, long zxid, int err} + body (only when err == 0).

import { type JuteReader, JuteWriter } from "./jute.ts";

export const Op = {
  create: 1,
  delete: 2,
  exists: 3,
  getData: 4,
  setData: 5,
  getChildren: 8,
  ping: 11,
  closeSession: -11,
} as const;

/** Special xids: watch notifications, pings, auth. */
export const Xid = { notification: -1, ping: -2, auth: -4 } as const;

export const CreateMode = { persistent: 0, ephemeral: 1 } as const;

/** KeeperException codes. */
export const Err = {
  ok: 0,
  systemError: -1,
  connectionLoss: -4,
  marshallingError: -5,
  unimplemented: -6,
  operationTimeout: -7,
  badArguments: -8,
  noNode: -101,
  noAuth: -102,
  badVersion: -103,
  noChildrenForEphemerals: -108,
  nodeExists: -110,
  notEmpty: -111,
  sessionExpired: -112,
  invalidACL: -114,
  authFailed: -115,
  sessionMoved: -118,
} as const;

const ERR_NAMES: Record<number, string> = Object.fromEntries(Object.entries(Err).map(([k, v]) => [v, k]));

export class ZkError extends Error {
  override name = "ZkError";
  constructor(
    readonly code: number,
    readonly path?: string,
    detail?: string,
  ) {
    super(`${ERR_NAMES[code] ?? `error ${code}`}${path ? ` for "${path}"` : ""}${detail ? `: ${detail}` : ""}`);
  }
}

export const PERM_ALL = 31;
/** world:anyone with every permission (ZooDefs.Ids.OPEN_ACL_UNSAFE). */
export const OPEN_ACL = [{ perms: PERM_ALL, scheme: "world", id: "anyone" }];

export interface Stat {
  czxid: bigint;
  mzxid: bigint;
  ctime: bigint;
  mtime: bigint;
  version: number;
  cversion: number;
  aversion: number;
  /** Session ID of the owner of an ephemeral node; 0 for persistent nodes. */
  ephemeralOwner: bigint;
  dataLength: number;
  numChildren: number;
  pzxid: bigint;
}

export function readStat(r: JuteReader): Stat {
  return {
    czxid: r.long(),
    mzxid: r.long(),
    ctime: r.long(),
    mtime: r.long(),
    version: r.int(),
    cversion: r.int(),
    aversion: r.int(),
    ephemeralOwner: r.long(),
    dataLength: r.int(),
    numChildren: r.int(),
    pzxid: r.long(),
  };
}

export interface ConnectRequest {
  lastZxidSeen: bigint;
  timeoutMs: number;
  sessionId: bigint;
  password: Uint8Array;
}

export function encodeConnect(c: ConnectRequest): Uint8Array {
  return new JuteWriter()
    .int(0) // protocolVersion
    .long(c.lastZxidSeen)
    .int(c.timeoutMs)
    .long(c.sessionId)
    .buffer(c.password)
    .bool(false) // readOnly: we write, so only read-write servers will do
    .frame();
}

export interface ConnectResponse {
  timeoutMs: number;
  sessionId: bigint;
  password: Uint8Array;
}

export function decodeConnect(r: JuteReader): ConnectResponse {
  r.int(); // protocolVersion
  const timeoutMs = r.int();
  const sessionId = r.long();
  const password = r.buffer() ?? new Uint8Array(16);
  if (r.remaining > 0) r.bool(); // readOnly, sent by servers >= 3.4
  return { timeoutMs, sessionId, password };
}

/** RequestHeader + body, framed. */
export function request(xid: number, op: number, body?: (w: JuteWriter) => void): Uint8Array {
  const w = new JuteWriter().int(xid).int(op);
  body?.(w);
  return w.frame();
}

export function writeAcl(w: JuteWriter, acl: Array<{ perms: number; scheme: string; id: string }>): void {
  w.int(acl.length);
  for (const a of acl) w.int(a.perms).string(a.scheme).string(a.id);
}
