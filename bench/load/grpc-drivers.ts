import type { LoadConfig } from "../lib/workload.js";
import { clientSessionId, PACKAGE, PAYLOAD_KEYS, SHARED_SESSIONS, sessionPayload, sharedSessionId } from "../lib/workload.js";
import { ABORTED, beginFrame, expectResult, PATHS, rollbackFrame, TX_FRAMES, txErrorCode, txFrame } from "./grpc-messages.js";
import type { BidiStream, GrpcConnection } from "./grpc-wire.js";
import { openConnections, openFrameTarget, openGrpcJsTarget } from "./unary-targets.js";

/** Operation is one timed unit of work of a virtual client: true when done, false when it hit a conflict. */
export type Operation = () => Promise<boolean>;

/** PreparedLoad is the seeded, connected work of one load process: one Operation per virtual client. */
export interface PreparedLoad {
  operations: Operation[];
  close(): void;
}

/**
 * prepareUnary connects, seeds and returns the virtual clients of the unary rows. `unary-get` reads the
 * SHARED_SESSIONS (this process seeds its share when `seedShared`), each client walking them from its
 * own offset; `unary-set` writes one small key into a session per client, seeded with the ~1 KB package.
 */
export async function prepareUnary(config: LoadConfig): Promise<PreparedLoad> {
  const target =
    config.client === "grpc-js"
      ? await openGrpcJsTarget(config.port, config.connections)
      : await openFrameTarget(config.client, config.port, config.connections, config.secure, config.traceparent);
  const payload = sessionPayload();
  const operations: Operation[] = [];
  if (config.driver === "unary-get") {
    const shared = config.sharedSessions ?? SHARED_SESSIONS;
    if (config.seedShared) {
      for (let i = config.processIndex; i < shared; i += config.processCount) {
        await target.prepare("set", sharedSessionId(i, shared), payload)();
      }
    }
    const calls = Array.from({ length: shared }, (_, i) => target.prepare("get", sharedSessionId(i, shared)));
    for (let c = 0; c < config.concurrency; c++) {
      let next = (c * 37 + config.processIndex * 101) % shared;
      operations.push(async () => {
        await (calls[next++ % shared] as () => Promise<void>)();
        return true;
      });
    }
  } else {
    for (let c = 0; c < config.concurrency; c++) {
      const sessionId = clientSessionId(config.salt, config.processIndex, c);
      await target.prepare("set", sessionId, payload)();
      const call = target.prepare("set", sessionId);
      operations.push(async () => {
        await call();
        return true;
      });
    }
  }
  if (config.checkSeed) {
    const sessionId =
      config.driver === "unary-get" ? sharedSessionId(config.processIndex) : clientSessionId(config.salt, config.processIndex, 0);
    checkSeeded(await target.readPackage(sessionId));
  }
  return { operations, close: () => target.close() };
}

function checkSeeded(response: { data?: Record<string, unknown> }): void {
  const keys = Object.keys(response.data ?? {}).filter((key) => key.startsWith("k"));
  if (keys.length !== PAYLOAD_KEYS) throw new Error(`seeded session reads back ${keys.length} of ${PAYLOAD_KEYS} keys`);
}

/**
 * prepareTransactions opens one bidi Transaction stream per virtual client (spread over the connections),
 * seeds each client's own session with the ~1 KB package in a first transaction, and returns the
 * pipelined transactions:
 * - `tx`: [begin + get] -> wait -> [set + commit] -> wait (two round trips, a read-modify-write);
 * - `tx-lockstep`: begin -> wait -> get -> wait -> set -> wait -> commit -> wait (one op per round trip);
 * - `tx-savepoint`: [begin + get + savepoint] -> wait -> [set + rollback + set + commit] -> wait.
 * A commit answered ABORTED counts as a conflict; any other error fails the operation.
 */
export async function prepareTransactions(config: LoadConfig): Promise<PreparedLoad> {
  const conns = await openConnections(config.client, config.port, config.connections, config.secure, config.traceparent);
  const seedFrame = txFrame({ case: "set", value: { package: PACKAGE, data: sessionPayload() } });
  const operations: Operation[] = [];
  for (let c = 0; c < config.concurrency; c++) {
    const stream = (conns[c % conns.length] as GrpcConnection).bidi(PATHS.transaction);
    const begin = beginFrame(clientSessionId(config.salt, config.processIndex, c));
    stream.write(Buffer.concat([begin, seedFrame, TX_FRAMES.commit]));
    const [, , committed] = await stream.read(3);
    expectResult(committed as Buffer, "commit");
    const driver = { tx: readModifyWrite, "tx-lockstep": lockStep, "tx-savepoint": withSavepoint }[config.driver as string];
    if (driver === undefined) throw new Error(`no transaction driver ${config.driver}`);
    operations.push(driver(stream, begin));
  }
  return {
    operations,
    close: () =>
      conns.forEach((conn) => {
        conn.close();
      }),
  };
}

function readModifyWrite(stream: BidiStream, begin: Buffer): Operation {
  const first = Buffer.concat([begin, TX_FRAMES.get]);
  const second = Buffer.concat([TX_FRAMES.set, TX_FRAMES.commit]);
  return async () => {
    stream.write(first);
    await checkAll(stream, await stream.read(2));
    stream.write(second);
    const [set, commit] = await stream.read(2);
    check(set as Buffer);
    return commitOutcome(commit as Buffer);
  };
}

function lockStep(stream: BidiStream, begin: Buffer): Operation {
  return async () => {
    for (const frame of [begin, TX_FRAMES.get, TX_FRAMES.set]) {
      stream.write(frame);
      await checkAll(stream, await stream.read(1));
    }
    stream.write(TX_FRAMES.commit);
    return commitOutcome((await stream.read(1))[0] as Buffer);
  };
}

function withSavepoint(stream: BidiStream, begin: Buffer): Operation {
  const first = Buffer.concat([begin, TX_FRAMES.get, TX_FRAMES.savepoint]);
  return async () => {
    stream.write(first);
    const [opened, got, saved] = await stream.read(3);
    await checkAll(stream, [opened as Buffer, got as Buffer, saved as Buffer]);
    const savepoint = expectResult(saved as Buffer, "savepoint");
    const id = savepoint.result.case === "savepoint" ? savepoint.result.value.savepointId : 0;
    stream.write(Buffer.concat([TX_FRAMES.set, rollbackFrame(id), TX_FRAMES.set, TX_FRAMES.commit]));
    const answers = await stream.read(4);
    for (const message of answers.slice(0, 3)) check(message);
    return commitOutcome(answers[3] as Buffer);
  };
}

/** Internal: on a failed op before commit, abort the transaction so the stream can begin again. */
async function checkAll(stream: BidiStream, messages: Buffer[]): Promise<void> {
  try {
    for (const message of messages) check(message);
  } catch (error) {
    stream.write(TX_FRAMES.abort);
    await stream.read(1);
    throw error;
  }
}

function check(message: Buffer): void {
  const code = txErrorCode(message);
  if (code !== 0) throw new Error(`transaction op failed with code ${code}`);
}

function commitOutcome(message: Buffer): boolean {
  const code = txErrorCode(message);
  if (code === ABORTED) return false;
  if (code !== 0) throw new Error(`commit failed with code ${code}`);
  return true;
}
