// A caller on another host (run inside a network namespace by test/helpers/remote-host.ts): it makes one
// call of each kind to sessiond and prints what each answered, as one JSON line, for the test to assert.
// Usage: node --import tsx test/helpers/remote-caller.ts HOST:PORT NAMESPACE
import type { ServiceError } from "@grpc/grpc-js";
import { connectRaw } from "./access.js";
import { connectHealth } from "./access-health.js";
import { connectReflection } from "./ops-grpcurl.js";
import { op } from "./sessiond.js";

/** Outcome is what one call answered: its gRPC code (0 for OK) and its message (or value). */
export interface Outcome {
  code: number;
  details: string;
}

/** RemoteOutcomes are the outcomes of the calls remote-caller.ts makes, by call. */
export interface RemoteOutcomes {
  createSession: Outcome;
  get: Outcome;
  transaction: Outcome;
  health: Outcome;
  reflection: Outcome;
}

const [address, namespace] = process.argv.slice(2) as [string, string];
const outcome = (promise: Promise<unknown>): Promise<Outcome> =>
  promise.then(
    (value) => ({ code: 0, details: JSON.stringify(value) }),
    (err: ServiceError) => ({ code: err.code ?? -1, details: err.details ?? String(err) }),
  );

const raw = connectRaw(address);
const health = connectHealth(address);
const reflection = connectReflection(address, "v1");
const stream = raw.stream();
// A stream admitted answers begin; one refused whole ends with a status (and begin is never answered).
const transaction: Promise<Outcome> = stream.send(op("begin", { namespace, sessionId: "remote-1" })).then(
  (r) => ({ code: r.error?.code ?? 0, details: r.result.case ?? "" }),
  () => stream.ended,
);
const outcomes: RemoteOutcomes = {
  createSession: await outcome(raw.call("createSession", { namespace }).then((r) => r.sessionId.length > 0)),
  get: await outcome(raw.call("get", { namespace, sessionId: "remote-1", package: "p" }).then((r) => r.data)),
  transaction: await transaction,
  health: await outcome(health.check()),
  reflection: await outcome(reflection.listServices()),
};
stream.call.cancel();
raw.close();
health.close();
reflection.close();
process.stdout.write(`${JSON.stringify(outcomes)}\n`);
process.exit(0);
