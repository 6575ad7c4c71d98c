import type { JsonObject } from "@bufbuild/protobuf";
import { createSessionClient, type SessionClient } from "../client/index.js";
import type { WorkloadClient } from "./workload-client.js";

/** SdkWorkloadClientOptions configure `createSdkWorkloadClient`. */
export interface SdkWorkloadClientOptions {
  /** instance names the sessiond in the history ("i0"...). */
  instance: string;
  /** address is the sessiond's "host:port". */
  address: string;
  /**
   * timeoutMs bounds every call (a whole transaction, a whole listing), so that a frozen memcached or a
   * killed sessiond ends an operation as `unknown` instead of hanging the run. Default: 3000.
   */
  timeoutMs?: number;
}

/** The package and key of every session's list: the list-append workload's one register per session. */
const PACKAGE = "w";
const KEY = "list";

/**
 * createSdkWorkloadClient drives one sessiond process over gRPC with the SDK (client/), as the torture run's
 * WorkloadClient. Every call is sent once (no SDK retry: a retried CreateSession or commit would make one
 * recorded operation two requests) and has a deadline. Errors are the SDK's ClientError, whose numeric
 * `code` (gRPC status) the recorder classifies: a lost connection is UNAVAILABLE, a passed deadline
 * DEADLINE_EXCEEDED, both `unknown`.
 */
export function createSdkWorkloadClient(options: SdkWorkloadClientOptions): WorkloadClient & { close(): void } {
  const timeoutMs = options.timeoutMs ?? 3000;
  const client: SessionClient = createSessionClient(options.address, {
    timeoutMs,
    retry: { attempts: 1 },
    transactionRetry: { attempts: 1 },
    // A killed and restarted sessiond comes back on the same port: reconnect within a fraction of a second,
    // not grpc-js's default backoff of a second and more.
    channelOptions: {
      "grpc.initial_reconnect_backoff_ms": 100,
      "grpc.max_reconnect_backoff_ms": 500,
      "grpc.min_reconnect_backoff_ms": 100,
    },
  });
  const deadline = () => ({ deadline: new Date(Date.now() + timeoutMs) });

  return {
    instance: options.instance,
    async createSession(namespace, principal) {
      const created = await client.createSession(namespace, { principal: principal ?? "", ...deadline() });
      return { sessionId: created.id, handle: created.handle ?? "" };
    },
    async appendTx(namespace, sessionId, element) {
      const tx = client.begin(namespace, sessionId, deadline());
      try {
        const list = listOf(await tx.get(PACKAGE, [KEY]));
        void tx.set(PACKAGE, { [KEY]: [...list, element] }); // pipelined: a failure dooms the commit
        await tx.commit();
        return list;
      } catch (err) {
        await tx.abort(); // never throws; a no-op once commit was sent
        throw err;
      }
    },
    async read(namespace, sessionId) {
      return listOf(await client.session(namespace, sessionId).get(PACKAGE, [KEY], deadline()));
    },
    async rotate(namespace, sessionId, principal) {
      const rotated = await client.session(namespace, sessionId).rotate({ principal: principal ?? "", ...deadline() });
      return { sessionId: rotated.id, handle: rotated.handle ?? "" };
    },
    bind(namespace, sessionId, principal) {
      return client.session(namespace, sessionId).setPrincipal(principal, {}, deadline());
    },
    deleteSession(namespace, sessionId) {
      return client.session(namespace, sessionId).delete("", [], deadline());
    },
    invalidateAll(namespace) {
      return client.invalidateAll(namespace, deadline());
    },
    revoke(namespace, principal) {
      return client.principal(namespace, principal).revoke(deadline());
    },
    async listSessions(namespace) {
      const ids: string[] = [];
      for await (const session of client.listSessions(namespace, deadline())) ids.push(session.sessionId);
      return ids;
    },
    async listPrincipalSessions(namespace, principal) {
      const handles: string[] = [];
      for await (const session of client.principal(namespace, principal).sessions(deadline())) handles.push(session.handle);
      return handles;
    },
    close: () => client.close(),
  };
}

// listOf reads the list out of the package's data; anything but a list of numbers is a bug worth a loud stop.
function listOf(data: JsonObject): number[] {
  const list = data[KEY];
  if (list === undefined) return [];
  if (!Array.isArray(list) || !list.every((e) => typeof e === "number")) {
    throw new Error(`package ${PACKAGE} key ${KEY} holds ${JSON.stringify(list)}, not a list of numbers`);
  }
  return list as number[];
}
