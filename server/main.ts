#!/usr/bin/env node
import cluster from "node:cluster";
import { runPrimary } from "./cluster.js";
import { loadConfig } from "./config/config.js";
import { ConfigError, usage } from "./config/settings.js";
import { createLogger, serve } from "./sessiond.js";

/**
 * main is `sessiond`: `sessiond serve [flags]` resolves the settings (flags > environment > config file >
 * defaults) and serves, in this process or, with --workers N > 1, in N cluster workers; `--help` prints every
 * setting. A bad setting exits 2 with the reason; a failure to start exits 1.
 */
async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (
    command === "--help" ||
    command === "-h" ||
    command === "help" ||
    (command === "serve" && (rest.includes("--help") || rest.includes("-h")))
  ) {
    process.stdout.write(`${usage()}\n`);
    return;
  }
  if (command !== "serve") {
    process.stderr.write(`sessiond: unknown command ${JSON.stringify(command ?? "")}\n${usage()}\n`);
    process.exit(2);
  }
  const config = loadConfig(rest, process.env);
  if (config.workers > 1 && cluster.isPrimary) {
    runPrimary(config, createLogger(config.logLevel));
    return;
  }
  await serve(config);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
    process.stderr.write(`sessiond: ${(err as Error).message}\n(sessiond serve --help lists every setting)\n`);
    process.exit(2);
  }
  process.stderr.write(`sessiond: failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
