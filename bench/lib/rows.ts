import type { Telemetry } from "./servers.js";
import type { DriverKind, GrpcClientKind, ServerKind } from "./workload.js";

/** Goals are the targets for a sessiond row at c64, as ratios measured in the same run. */
export interface Goals {
  /** ceilingOps: ops/s at least this times the ceiling row's. */
  ceilingOps?: number;
  /** ceilingP99: p99 at most this times the ceiling row's. */
  ceilingP99?: number;
  /** peerOps: ops/s at least this times the express-session row's. */
  peerOps?: number;
  /**
   * ceilingPerCpu: operations per core-second of the server plus memcached at least this times the
   * ceiling's. On a 2-vCPU machine the load generator competes for the same cores, so CPU per operation,
   * not ops/s, says what a deployment pays.
   */
  ceilingPerCpu?: number;
  /** peerPerCpu: operations per core-second (server + memcached) at least this times express-session's. */
  peerPerCpu?: number;
}

/** RowSpec describes one row of the table: which server, what the virtual clients do, and what it is compared to. */
export interface RowSpec {
  /** id names the row on the command line (`--only get,tx`). */
  id: string;
  /** label is the row's name in the table. */
  label: string;
  server: ServerKind;
  driver: DriverKind;
  /** workers is sessiond's `--workers` (default 1). */
  workers?: number;
  /** sharedSessions is how many seeded sessions a Get row reads, one after the other (default SHARED_SESSIONS). */
  sharedSessions?: number;
  /** telemetry turns on sessiond's metrics or tracing (default off); its ceiling is the same row with it off. */
  telemetry?: Telemetry;
  /** sealed starts sessiond with `--data-keys` (a fresh key file): every memcached record sealed. */
  sealed?: boolean;
  /** client overrides the gRPC load client (default: `--client`, itself `raw`). */
  client?: GrpcClientKind;
  /** concurrencies overrides `--concurrency` for this row. */
  concurrencies?: number[];
  /** ceiling is the id of the row this one is divided by (ops and p99 ratios). */
  ceiling?: string;
  /** peer is the id of the row whose ops/s this one is compared to (express-session). */
  peer?: string;
  goals?: Goals;
  /** stateless servers keep nothing: the load does not read its seed back. */
  stateless?: boolean;
  /** optional rows run only when named in `--only`. */
  optional?: boolean;
  /**
   * secure rows serve TLS with bearer tokens and access rules (bench/lib/secure-setup.ts); their load
   * client is node-h2 over TLS, sending the token on every call. "token": the tokens and access rules
   * without TLS (plaintext, the token on every call).
   */
  secure?: boolean | "token";
  /** baseline runs sessiond as of this git commit: the code a change is measured against, in the same run. */
  baseline?: string;
}

/**
 * BEFORE_FRESH_READS is main before issue 18 (generations and stamps cached for up to 1 s), the baseline of
 * the `*-fresh` rows: what reading the generation (and stamp) copies beside each session costs.
 */
const BEFORE_FRESH_READS = "46994b2";

// freshReadRows are a row of today's code and the same row as of BEFORE_FRESH_READS, side by side.
function freshReadRows(id: string, label: string, driver: DriverKind): RowSpec[] {
  const common = { server: "sessiond" as const, driver, concurrencies: [64], optional: true };
  return [
    { ...common, id: `${id}-cached`, label: `${label}, before issue 18 (${BEFORE_FRESH_READS})`, baseline: BEFORE_FRESH_READS },
    {
      ...common,
      id: `${id}-fresh`,
      label: `${label}, no cached generation`,
      ceiling: `${id}-cached`,
      goals: { ceilingPerCpu: 0.95 },
    },
  ];
}

/**
 * ROWS are the bench's rows in table order: the ceilings and the express peer first (they are what the
 * sessiond rows are divided by), then sessiond, then sessiond with sealed storage (divided by the same
 * rows without keys: throughput per CPU with keys against without, in one run), then the scale row. The memory row is separate
 * (bench/lib/memory-row.ts).
 */
/**
 * COLD_SESSIONS is how many sessions the `get-cold` rows read: four times what the sealed store keeps the
 * plaintext of (4,096 records), so that most sealed reads decrypt, as on an instance that did not write
 * the record itself (several instances behind a balancer).
 */
const COLD_SESSIONS = 16_384;

export const ROWS: readonly RowSpec[] = [
  { id: "echo", label: "grpc-echo", server: "grpc-echo", driver: "unary-get", stateless: true },
  { id: "mc-get", label: "grpc+memcached-get", server: "grpc-memcached-get", driver: "unary-get" },
  { id: "mc-set", label: "grpc+memcached-gets/cas", server: "grpc-memcached-set", driver: "unary-set" },
  { id: "stream-cas", label: "grpc-stream+gets/cas", server: "grpc-stream-cas", driver: "tx" },
  { id: "stream-cas-lockstep", label: "grpc-stream+gets/cas lock-step", server: "grpc-stream-cas", driver: "tx-lockstep" },
  { id: "express", label: "express-session+connect-memcached", server: "express-session", driver: "http-rmw" },
  {
    id: "get",
    label: "sessiond Get",
    server: "sessiond",
    driver: "unary-get",
    ceiling: "mc-get",
    peer: "express",
    goals: { ceilingOps: 0.85, ceilingP99: 1.3, peerOps: 1.2, ceilingPerCpu: 1.0, peerPerCpu: 2.5 },
  },
  {
    id: "set",
    label: "sessiond Set",
    server: "sessiond",
    driver: "unary-set",
    ceiling: "mc-set",
    peer: "express",
    goals: { ceilingPerCpu: 0.9, peerPerCpu: 2.5 },
  },
  {
    id: "tx",
    label: "sessiond Tx begin/get/set/commit",
    server: "sessiond",
    driver: "tx",
    ceiling: "stream-cas",
    peer: "express",
    goals: { ceilingOps: 0.8, peerOps: 1.0, peerPerCpu: 1.3 },
  },
  {
    id: "tx-lockstep",
    label: "sessiond Tx lock-step",
    server: "sessiond",
    driver: "tx-lockstep",
    ceiling: "stream-cas-lockstep",
    goals: { ceilingPerCpu: 0.9 },
  },
  {
    id: "tx-savepoint",
    label: "sessiond Tx +savepoint/rollback",
    server: "sessiond",
    driver: "tx-savepoint",
    ceiling: "stream-cas",
    peer: "express",
  },
  {
    id: "get-sealed",
    label: "sessiond Get, --data-keys",
    server: "sessiond",
    driver: "unary-get",
    sealed: true,
    ceiling: "get",
    goals: { ceilingPerCpu: 0.9 },
  },
  {
    id: "set-sealed",
    label: "sessiond Set, --data-keys",
    server: "sessiond",
    driver: "unary-set",
    sealed: true,
    ceiling: "set",
    goals: { ceilingPerCpu: 0.9 },
  },
  {
    id: "tx-sealed",
    label: "sessiond Tx, --data-keys",
    server: "sessiond",
    driver: "tx",
    sealed: true,
    ceiling: "tx",
    goals: { ceilingPerCpu: 0.9 },
  },
  {
    id: "get-w2",
    label: "sessiond Get, --workers 2",
    server: "sessiond",
    driver: "unary-get",
    workers: 2,
    concurrencies: [64],
    ceiling: "get",
  },
  // Access control's cost: TLS + token + rules against plaintext without checks, same client (node-h2).
  {
    id: "get-h2",
    label: "sessiond Get, node-h2 client",
    server: "sessiond",
    driver: "unary-get",
    client: "node-h2",
    concurrencies: [64],
  },
  {
    id: "get-tls",
    label: "sessiond Get, TLS + token",
    server: "sessiond",
    driver: "unary-get",
    client: "node-h2",
    secure: true,
    concurrencies: [64],
    ceiling: "get-h2",
    goals: { ceilingOps: 0.8 },
  },
  {
    id: "tx-h2",
    label: "sessiond Tx, node-h2 client",
    server: "sessiond",
    driver: "tx",
    client: "node-h2",
    concurrencies: [64],
  },
  {
    id: "tx-tls",
    label: "sessiond Tx, TLS + token",
    server: "sessiond",
    driver: "tx",
    client: "node-h2",
    secure: true,
    concurrencies: [64],
    ceiling: "tx-h2",
    goals: { ceilingOps: 0.8 },
  },
  // Every feature but TLS (the ceilings are plaintext): tokens and access rules, metrics, sealing keys.
  {
    id: "tx-lockstep-all",
    label: "sessiond Tx lock-step, token+rules+metrics+keys",
    server: "sessiond",
    driver: "tx-lockstep",
    client: "node-h2",
    secure: "token",
    telemetry: "metrics",
    sealed: true,
    concurrencies: [64],
    ceiling: "stream-cas-lockstep",
    goals: { ceilingPerCpu: 0.75 },
  },
  {
    id: "get-metrics",
    label: "sessiond Get, --metrics",
    server: "sessiond",
    driver: "unary-get",
    telemetry: "metrics",
    concurrencies: [64],
    ceiling: "get",
    goals: { ceilingOps: 0.95 },
  },
  {
    id: "get-tracing",
    label: "sessiond Get, tracing 100%",
    server: "sessiond",
    driver: "unary-get",
    telemetry: "tracing",
    concurrencies: [64],
    ceiling: "get",
    goals: { ceilingOps: 0.8 },
  },
  {
    id: "tx-metrics",
    label: "sessiond Tx, --metrics",
    server: "sessiond",
    driver: "tx",
    telemetry: "metrics",
    concurrencies: [64],
    ceiling: "tx",
    goals: { ceilingOps: 0.95 },
  },
  {
    id: "tx-tracing",
    label: "sessiond Tx, tracing 100%",
    server: "sessiond",
    driver: "tx",
    telemetry: "tracing",
    concurrencies: [64],
    ceiling: "tx",
    goals: { ceilingOps: 0.8 },
  },
  {
    id: "get-cold",
    label: "sessiond Get, 16,384 sessions",
    server: "sessiond",
    driver: "unary-get",
    sharedSessions: COLD_SESSIONS,
    concurrencies: [64],
  },
  {
    id: "get-cold-sealed",
    label: "sessiond Get, 16,384 sessions, --data-keys",
    server: "sessiond",
    driver: "unary-get",
    sharedSessions: COLD_SESSIONS,
    sealed: true,
    concurrencies: [64],
    ceiling: "get-cold",
    goals: { ceilingPerCpu: 0.9 },
  },
  {
    id: "get-tracing-proto",
    label: "sessiond Get, tracing 100% protobuf",
    server: "sessiond",
    driver: "unary-get",
    telemetry: "tracing-protobuf",
    concurrencies: [64],
    ceiling: "get",
    goals: { ceilingOps: 0.8 },
  },
  {
    id: "tx-tracing-proto",
    label: "sessiond Tx, tracing 100% protobuf",
    server: "sessiond",
    driver: "tx",
    telemetry: "tracing-protobuf",
    concurrencies: [64],
    ceiling: "tx",
    goals: { ceilingOps: 0.8 },
  },
  ...freshReadRows("get", "sessiond Get", "unary-get"),
  ...freshReadRows("set", "sessiond Set", "unary-set"),
  ...freshReadRows("tx", "sessiond Tx", "tx"),
  ...freshReadRows("tx-lockstep", "sessiond Tx lock-step", "tx-lockstep"),
  {
    id: "echo-node-h2",
    label: "grpc-echo, node-h2 client",
    server: "grpc-echo",
    driver: "unary-get",
    client: "node-h2",
    stateless: true,
    ceiling: "echo",
    optional: true,
  },
  {
    id: "echo-grpc-js",
    label: "grpc-echo, grpc-js client",
    server: "grpc-echo",
    driver: "unary-get",
    client: "grpc-js",
    stateless: true,
    ceiling: "echo",
    optional: true,
  },
];

/** selectRows picks the rows named in `only` (ids or labels), or every non-optional row when empty. */
export function selectRows(only: readonly string[]): RowSpec[] {
  if (only.length === 0) return ROWS.filter((row) => !row.optional);
  const unknown = only.filter((name) => name !== "memory" && !ROWS.some((row) => row.id === name || row.label === name));
  if (unknown.length > 0)
    throw new Error(`unknown row(s) ${unknown.join(", ")}; rows: ${ROWS.map((r) => r.id).join(", ")}, memory`);
  return ROWS.filter((row) => only.includes(row.id) || only.includes(row.label));
}

/**
 * runOrder is the order in which run number `run` measures `rows`: each row followed at once by the rows
 * compared with it (a sessiond row after its ceiling, its sealed, metrics and tracing variants and its peer
 * after it),
 * so that the points of a ratio are measured next to each other, not minutes apart on a shared machine;
 * odd runs go the other way, so that a drift over the run falls on both sides of a ratio's median.
 */
export function runOrder(rows: readonly RowSpec[], run: number): RowSpec[] {
  const ordered: RowSpec[] = [];
  const place = (row: RowSpec): void => {
    if (ordered.includes(row)) return;
    ordered.push(row);
    for (const variant of rows) if (variant.ceiling === row.id) place(variant);
    const peer = rows.find((other) => other.id === row.peer);
    if (peer !== undefined) place(peer);
  };
  for (const row of rows) place(row);
  return run % 2 === 0 ? ordered : ordered.reverse();
}
