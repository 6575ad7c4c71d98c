import type { LoadConfig } from "../lib/workload.js";
import { clientSessionId } from "../lib/workload.js";
import { beginFrame, PATHS, txErrorCode } from "./grpc-messages.js";
import type { BidiStream, GrpcConnection } from "./grpc-wire.js";
import { openConnections } from "./unary-targets.js";

/** IDLE_BATCH is how many streams are opened before waiting for their begin answers. */
const IDLE_BATCH = 500;

/** IdleStreams are open Transaction streams, each holding one begun transaction, sending nothing more. */
export interface IdleStreams {
  /** opened is how many streams answered their begin without error. */
  opened: number;
  /** failed is how many begins failed (first error in `firstError`). */
  failed: number;
  firstError?: string;
  /** close cancels every stream and ends the connections. */
  close(): void;
}

/**
 * openIdleStreams opens `config.concurrency` Transaction streams spread round-robin over
 * `config.connections` HTTP/2 connections; each sends a begin on its own (absent, so empty) session and
 * waits for the answer, then stays open and idle, so the server holds one open transaction per stream.
 */
export async function openIdleStreams(config: LoadConfig): Promise<IdleStreams> {
  const conns = await openConnections(config.client, config.port, config.connections);
  const result: IdleStreams = {
    opened: 0,
    failed: 0,
    close: () =>
      conns.forEach((conn) => {
        conn.close();
      }),
  };
  for (let start = 0; start < config.concurrency; start += IDLE_BATCH) {
    const batch: BidiStream[] = [];
    for (let i = start; i < Math.min(config.concurrency, start + IDLE_BATCH); i++) {
      const stream = (conns[i % conns.length] as GrpcConnection).bidi(PATHS.transaction);
      stream.write(beginFrame(clientSessionId(config.salt, config.processIndex, i)));
      batch.push(stream);
    }
    const answers = await Promise.allSettled(batch.map((stream) => stream.read(1)));
    for (const answer of answers) {
      const code = answer.status === "fulfilled" ? txErrorCode(answer.value[0] as Buffer) : -1;
      if (code === 0) {
        result.opened++;
      } else {
        result.failed++;
        result.firstError ??= answer.status === "rejected" ? String(answer.reason) : `begin answered code ${code}`;
      }
    }
  }
  return result;
}
