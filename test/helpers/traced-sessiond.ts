import { type Client, credentials, makeGenericClientConstructor } from "@grpc/grpc-js";
import { SessionService } from "../../gen/sessiond/v1/session_service_pb.js";
import { createServiceDefinition } from "../../rpc/service-definition.js";
import { type MemcachedProcess, startMemcached } from "./memcached.js";
import { type SessiondProcess, startSessiondProcess } from "./ops-process.js";
import { type OtlpReceiver, startOtlpReceiver } from "./otlp-receiver.js";

const RawClient = makeGenericClientConstructor(createServiceDefinition(SessionService), "SessionService");

/** TracedSessiond is a sessiond process exporting to a receiver in the test, over its own memcached. */
export interface TracedSessiond {
  memcached: MemcachedProcess;
  receiver: OtlpReceiver;
  sessiond: SessiondProcess & { address: string };
  /** client is a raw grpc-js client of the sessiond (methods by their local names). */
  client: Client & Record<string, (...args: unknown[]) => unknown>;
}

/**
 * tracedSessiond starts, before the suite's tests, memcached, an OTLP receiver and a sessiond exporting to
 * it every 50 ms (with `env` added: sampler, protocol), and stops them after; its fields are set once the
 * suite's `before` has run.
 */
export function tracedSessiond(env: NodeJS.ProcessEnv = {}): TracedSessiond {
  const t = {} as TracedSessiond;
  before(async () => {
    t.memcached = await startMemcached();
    t.receiver = await startOtlpReceiver();
    t.sessiond = await startSessiondProcess(["--memcached", t.memcached.address], {
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: t.receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY: "50", ...env },
    });
    t.client = new RawClient(t.sessiond.address, credentials.createInsecure()) as TracedSessiond["client"];
  });
  after(async () => {
    t.client?.close();
    t.sessiond?.child.kill("SIGTERM");
    await t.sessiond?.waitForExit();
    await t.receiver?.close();
    await t.memcached?.stop();
  });
  return t;
}
