#!/usr/bin/env node
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Client, credentials, makeGenericClientConstructor, type ServiceError } from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";

/**
 * health-probe asks a sessiond's grpc.health.v1.Health/Check (service "") and exits 0 when it answers
 * SERVING, 1 otherwise: the Dockerfile's HEALTHCHECK and any exec probe. Address: the first argument, else
 * SESSIOND_LISTEN, else 127.0.0.1:50051; an any-address host (0.0.0.0, [::]) is asked on loopback.
 * It waits at most SESSIOND_PROBE_TIMEOUT_MS (default 3000 ms).
 *
 *   node dist/server/health-probe.js [HOST:PORT]
 *
 * Importing this module makes no call: only running it as the program does (see the end of the file).
 */

const HealthClient = makeGenericClientConstructor(healthService, "Health");
type HealthCheckClient = Client & {
  check(
    request: { service: string },
    options: { deadline: number },
    callback: (err: ServiceError | null, res?: { status: string }) => void,
  ): void;
};

/**
 * checkHealth asks `address` (HOST:PORT, plaintext) for the overall health (service "") and resolves to the
 * status name it answers (SERVING, NOT_SERVING...); rejects with the grpc-js ServiceError when the call fails,
 * e.g. DEADLINE_EXCEEDED after `timeoutMs`.
 */
export function checkHealth(address: string, timeoutMs: number): Promise<string> {
  const client = new HealthClient(address, credentials.createInsecure()) as unknown as HealthCheckClient;
  return new Promise((resolve, reject) => {
    client.check({ service: "" }, { deadline: Date.now() + timeoutMs }, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(res?.status ?? "UNKNOWN");
    });
  });
}

// probeAddress picks the address to ask: argument, else SESSIOND_LISTEN, else the default, on loopback.
function probeAddress(argv: string[], env: NodeJS.ProcessEnv): string {
  const address = argv[0] ?? (env.SESSIOND_LISTEN || "127.0.0.1:50051");
  return address.replace(/^(0\.0\.0\.0|\[::\]|::):/, "127.0.0.1:");
}

async function main(): Promise<void> {
  const address = probeAddress(process.argv.slice(2), process.env);
  const timeoutMs = Number(process.env.SESSIOND_PROBE_TIMEOUT_MS || 3000);
  try {
    const status = await checkHealth(address, timeoutMs);
    if (status !== "SERVING") process.stderr.write(`health-probe: ${address}: ${status}\n`);
    process.exit(status === "SERVING" ? 0 : 1);
  } catch (err) {
    const e = err as ServiceError;
    process.stderr.write(`health-probe: ${address}: ${e.code} ${e.details ?? e.message}\n`);
    process.exit(1);
  }
}

// Run only as the program itself (node dist/server/health-probe.js), never when imported.
const entry = process.argv[1];
if (entry !== undefined && realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url))) void main();
