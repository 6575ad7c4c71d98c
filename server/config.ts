import { parseArgs } from "node:util";

/** Config is everything `sessiond serve` needs, resolved from flags and environment variables. */
export interface Config {
  /** listen is the HOST:PORT to serve on. Flag --listen, env SESSIOND_LISTEN. Default 0.0.0.0:50051. */
  listen: string;
  /** memcached lists HOST:PORT servers; empty means the in-process memory store. Flag --memcached, env SESSIOND_MEMCACHED. */
  memcached: string[];
  /** timeoutSeconds is the default session idle timeout. Flag --timeout, env SESSIOND_TIMEOUT. Default 3600. */
  timeoutSeconds: number;
  /** resolutionSeconds is the read-refresh resolution. Flag --resolution, env SESSIOND_RESOLUTION. Default min(60, timeout/4). */
  resolutionSeconds: number | undefined;
  /** logLevel is pino's level. Flag --log-level, env SESSIOND_LOG_LEVEL. Default info. */
  logLevel: string;
}

/** ConfigError is a setting that cannot work; main prints it and exits 2. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** loadConfig resolves flags over environment variables over defaults. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): Config {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      listen: { type: "string" },
      memcached: { type: "string" },
      timeout: { type: "string" },
      resolution: { type: "string" },
      "log-level": { type: "string" },
    },
  });
  const memcached = values.memcached ?? env.SESSIOND_MEMCACHED ?? "";
  const resolution = values.resolution ?? env.SESSIOND_RESOLUTION;
  return {
    listen: hostPort("--listen", values.listen ?? env.SESSIOND_LISTEN ?? "0.0.0.0:50051"),
    memcached: memcached === "" ? [] : memcached.split(",").map((s) => hostPort("--memcached", s.trim())),
    timeoutSeconds: seconds("--timeout", values.timeout ?? env.SESSIOND_TIMEOUT ?? "3600"),
    resolutionSeconds: resolution === undefined ? undefined : seconds("--resolution", resolution, true),
    logLevel: values["log-level"] ?? env.SESSIOND_LOG_LEVEL ?? "info",
  };
}

function hostPort(flag: string, value: string): string {
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(value)) {
    throw new ConfigError(`${flag} ${JSON.stringify(value)} is not HOST:PORT`);
  }
  return value;
}

function seconds(flag: string, value: string, zeroOk = false): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || (n === 0 && !zeroOk)) {
    throw new ConfigError(`${flag} ${JSON.stringify(value)} is not a positive number of seconds`);
  }
  return n;
}
