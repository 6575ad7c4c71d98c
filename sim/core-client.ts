import type { CoreOptions } from "../server/core/options.js";
import { createSessionCore, type SessionCore } from "../server/core/session-core.js";
import { StoreUnavailableError } from "../server/store/store.js";
import type { SimPool } from "./sim-pool.js";
import { createSimStore, type SimStore } from "./sim-store.js";
import type { WorkloadClient } from "./workload-client.js";

/** CallError is a failed call as a gRPC client would see it: a status code and a message. */
export class CallError extends Error {
  override name = "CallError";
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const UNAVAILABLE = 14;
const INTERNAL = 13;

/**
 * SimInstance is one sessiond instance of a simulation: the real core (`createSessionCore`, unchanged)
 * over its own connection to the simulated pool, on its own clock. `crash` discards it with its caches,
 * open transactions and pending calls (their callers hear UNAVAILABLE); `restart` starts a fresh one.
 */
export class SimInstance {
  private core: SessionCore | undefined;
  private store: SimStore | undefined;
  private readonly pending = new Set<(err: CallError) => void>();

  constructor(
    readonly name: string,
    private readonly pool: SimPool,
    private readonly options: Partial<CoreOptions>,
  ) {
    this.restart();
  }

  /** restart starts a fresh core (after a crash: empty caches, new connections). */
  restart(): void {
    this.store = createSimStore(this.pool);
    this.core = createSessionCore(this.store, this.options);
  }

  /** crash kills the instance: nothing it sent is answered to it any more, its callers hear UNAVAILABLE. */
  crash(): void {
    this.store?.crash();
    this.store = undefined;
    this.core = undefined;
    for (const fail of this.pending) fail(new CallError(UNAVAILABLE, "instance crashed"));
    this.pending.clear();
  }

  /** call runs one call on the current core, as a gRPC caller sees it (errors carry a code). */
  call<T>(run: (core: SessionCore) => Promise<T>): Promise<T> {
    const core = this.core;
    if (core === undefined) return Promise.reject(new CallError(UNAVAILABLE, "instance down: connection refused"));
    return new Promise<T>((resolve, reject) => {
      this.pending.add(reject);
      run(core).then(
        (value) => {
          if (this.pending.delete(reject)) resolve(value);
        },
        (err: unknown) => {
          if (this.pending.delete(reject)) reject(asCallError(err));
        },
      );
    });
  }
}

function asCallError(err: unknown): CallError {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof code === "number") return new CallError(code, message);
  return new CallError(err instanceof StoreUnavailableError ? UNAVAILABLE : INTERNAL, message);
}

const PACKAGE = "w";
const KEY = "list";

/** listOf reads the workload's list out of a package ({} or no list: empty). */
function listOf(data: Record<string, unknown>): number[] {
  const list = data[KEY];
  return Array.isArray(list) ? (list as number[]) : [];
}

/** coreClient is the WorkloadClient of a simulated instance: each method is the gRPC call's core operation. */
export function coreClient(instance: SimInstance): WorkloadClient {
  const call = <T>(run: (core: SessionCore) => Promise<T>) => instance.call(run);
  return {
    instance: instance.name,
    createSession: (ns, principal) => call((core) => core.createSession(ns, principal ? { principal } : {})),
    appendTx: (ns, id, element) =>
      call(async (core) => {
        const tx = await core.begin(ns, id);
        const list = listOf(tx.get(PACKAGE, [KEY]));
        tx.set(PACKAGE, { [KEY]: [...list, element] });
        await tx.commit();
        return list;
      }),
    read: (ns, id) => call(async (core) => listOf(await core.get(ns, id, PACKAGE, [KEY]))),
    rotate: (ns, id, principal) => call((core) => core.rotateSession(ns, id, principal ?? "")),
    bind: (ns, id, principal) => call((core) => core.setPrincipal(ns, id, principal, {})),
    deleteSession: (ns, id) => call((core) => core.delete(ns, id, "", [])),
    invalidateAll: (ns) => call((core) => core.invalidateAll(ns)),
    revoke: (ns, principal) => call((core) => core.revokeSessions(ns, principal, [], [])),
    listSessions: (ns) =>
      call((core) =>
        pages(
          (token) => core.listSessions(ns, 100, token),
          (s) => s.sessionId,
        ),
      ),
    listPrincipalSessions: (ns, principal) =>
      call((core) =>
        pages(
          (token) => core.listPrincipalSessions(ns, principal, 100, token),
          (s) => s.handle,
        ),
      ),
  };
}

// pages reads every page of a listing and answers one field of each session.
async function pages<S>(
  page: (token: string) => Promise<{ sessions: S[]; nextPageToken: string }>,
  field: (s: S) => string,
): Promise<string[]> {
  const out: string[] = [];
  let token = "";
  do {
    const got = await page(token);
    out.push(...got.sessions.map(field));
    token = got.nextPageToken;
  } while (token !== "");
  return out;
}
