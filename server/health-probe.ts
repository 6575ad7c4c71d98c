#!/usr/bin/env node
import { type Client, credentials, makeGenericClientConstructor, type ServiceError } from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";

/**
 * health-probe asks a sessiond's grpc.health.v1.Health/Check (service "") and exits 0 when it answers
 * SERVING, 1 otherwise: the Dockerfile's HEALTHCHECK and any exec probe. Address: the first argument, else
 * SESSIOND_LISTEN, else 127.0.0.1:50051; an any-address host (0.0.0.0, [::]) is asked on loopback.
 * It waits at most SESSIOND_PROBE_TIMEOUT_MS (default 3000 ms).
 *
 *   node dist/server/health-probe.js [HOST:PORT]
 */
export function probeAddress(argv: string[], env: NodeJS.ProcessEnv): string {
  const address = argv[0] ?? (env.SESSIOND_LISTEN || "127.0.0.1:50051");
  return address.replace(/^(0\.0\.0\.0|\[::\]|::):/, "127.0.0.1:");
}

const address = probeAddress(process.argv.slice(2), process.env);
const timeoutMs = Number(process.env.SESSIOND_PROBE_TIMEOUT_MS || 3000);
const HealthClient = makeGenericClientConstructor(healthService, "Health");
const client = new HealthClient(address, credentials.createInsecure()) as unknown as Client & {
  check(
    request: { service: string },
    options: { deadline: number },
    callback: (err: ServiceError | null, res?: { status: string }) => void,
  ): void;
};

client.check({ service: "" }, { deadline: Date.now() + timeoutMs }, (err, res) => {
  client.close();
  if (err) {
    process.stderr.write(`health-probe: ${address}: ${err.code} ${err.details}\n`);
    process.exit(1);
  }
  const status = res?.status ?? "UNKNOWN";
  if (status !== "SERVING") process.stderr.write(`health-probe: ${address}: ${status}\n`);
  process.exit(status === "SERVING" ? 0 : 1);
});
