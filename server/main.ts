#!/usr/bin/env node
import { pino } from "pino";
import { ConfigError, loadConfig } from "./config.js";
import { createSessionCore } from "./core/session-core.js";
import { createSessionServer } from "./grpc/session-server.js";
import { createMemcachedStore } from "./store/memcached-store.js";
import { createMemoryStore } from "./store/memory-store.js";

const USAGE = "usage: sessiond serve [--listen HOST:PORT] [--memcached HOST:PORT[,HOST:PORT...]] [--timeout SECONDS] [--resolution SECONDS] [--log-level LEVEL]";

/** main reads flags and environment, starts the server, and drains it on SIGTERM/SIGINT. */
async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command !== "serve") {
    process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
  const config = loadConfig(rest, process.env);
  const logger = pino({ level: config.logLevel, base: { service: "sessiond", pid: process.pid } });
  const store =
    config.memcached.length > 0
      ? createMemcachedStore({ servers: config.memcached, logger })
      : createMemoryStore();
  if (config.memcached.length === 0) {
    logger.warn("using the in-process memory store: sessions live only in this process; pass --memcached HOST:PORT to share them");
  }
  const core = createSessionCore(
    store,
    { timeoutSeconds: config.timeoutSeconds, resolutionSeconds: config.resolutionSeconds },
    logger,
  );
  const server = createSessionServer(core, logger);
  const port = await server.listen(config.listen);
  logger.info(
    { address: config.listen.replace(/:\d+$/, `:${port}`), store: config.memcached.length > 0 ? { memcached: config.memcached } : "memory" },
    "sessiond listening",
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "sessiond stopping");
    await server.shutdown(10_000);
    await store.close();
    logger.info("sessiond stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
    process.stderr.write(`sessiond: ${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  process.stderr.write(`sessiond: failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
