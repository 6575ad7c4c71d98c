/**
 * ceiling-server runs one ceiling of the bench as its own process:
 * `node --import tsx bench/servers/ceiling-server.ts --kind <kind> --listen 127.0.0.1:PORT --memcached HOST:PORT`
 * with kind `grpc-echo`, `grpc-memcached-get`, `grpc-memcached-set` or `grpc-stream-cas`. A bare grpc-js server with default
 * options serves the SessionService definition from the one adapter; methods a ceiling does not
 * implement answer UNIMPLEMENTED. SIGTERM/SIGINT shut it down.
 */
import { parseArgs } from "node:util";
import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { MemcacheClient } from "memcache-client";
import { SessionService } from "../../gen/sessiond/v1/session_service_pb.js";
import { createServiceDefinition } from "../../rpc/service-definition.js";
import { streamCasCeiling } from "./stream-ceiling.js";
import { echoCeiling, memcachedGetCeiling, memcachedSetCeiling } from "./unary-ceilings.js";

/** CEILING_KINDS are the ceilings this process can serve. */
export const CEILING_KINDS = ["grpc-echo", "grpc-memcached-get", "grpc-memcached-set", "grpc-stream-cas"] as const;

function implementation(kind: string, memcached: MemcacheClient | undefined): UntypedServiceImplementation {
  if (kind === "grpc-echo") return echoCeiling();
  if (!memcached) throw new Error(`--memcached is required for ${kind}`);
  if (kind === "grpc-memcached-get") return memcachedGetCeiling(memcached);
  if (kind === "grpc-memcached-set") return memcachedSetCeiling(memcached);
  if (kind === "grpc-stream-cas") return streamCasCeiling(memcached);
  throw new Error(`unknown --kind ${kind}; one of ${CEILING_KINDS.join(", ")}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      kind: { type: "string" },
      listen: { type: "string" },
      memcached: { type: "string" },
      "memcached-connections": { type: "string" },
    },
  });
  // As sessiond's store: Nagle off (small pipelined commands must not wait for delayed ACKs).
  const server = { server: values.memcached ?? "", maxConnections: Number(values["memcached-connections"] ?? 1) };
  const memcached = values.memcached ? new MemcacheClient({ server, noDelay: true }) : undefined;
  const grpcServer = new Server();
  grpcServer.addService(createServiceDefinition(SessionService), implementation(values.kind ?? "", memcached));
  await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync(values.listen ?? "127.0.0.1:0", ServerCredentials.createInsecure(), (error, port) =>
      error ? reject(error) : resolve(port),
    ),
  );
  const shutdown = () => {
    grpcServer.forceShutdown();
    memcached?.shutdown();
    process.exit(0);
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
  process.on("disconnect", shutdown); // the bench that started this process is gone
}

main().catch((error: unknown) => {
  process.stderr.write(`ceiling-server: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
