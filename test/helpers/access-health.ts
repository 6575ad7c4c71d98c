// A grpc.health.v1.Health client, plaintext or with the credentials given.
import {
  type ChannelCredentials,
  type Client,
  credentials,
  makeGenericClientConstructor,
  type ServiceError,
} from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";

const HealthClient = makeGenericClientConstructor(healthService, "Health");

/** HealthProbe asks one sessiond's Health service. */
export interface HealthProbe {
  /** check resolves with the status of service "" (e.g. "SERVING"). */
  check(): Promise<string>;
  close(): void;
}

/** connectHealth connects a HealthProbe. */
export function connectHealth(address: string, creds: ChannelCredentials = credentials.createInsecure()): HealthProbe {
  const client = new HealthClient(address, creds) as unknown as Client & {
    check(req: { service: string }, cb: (err: ServiceError | null, res: { status: string }) => void): void;
  };
  return {
    check: () =>
      new Promise((resolve, reject) => client.check({ service: "" }, (err, res) => (err ? reject(err) : resolve(res.status)))),
    close: () => client.close(),
  };
}
