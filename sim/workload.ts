import type { Fault, History, Op, Outcome } from "./history.js";
import { createRandom, type Random } from "./random.js";
import type { WorkloadClient } from "./workload-client.js";

/** Step is one move of a workload worker: an operation, or a short scenario aimed at a known race. */
export type Step =
  | "append"
  | "read"
  | "create"
  | "rotate"
  | "bind"
  | "delete"
  | "invalidate"
  | "revoke"
  | "list"
  | "list-principal"
  /** two instances send InvalidateAll of one namespace at once */
  | "race-invalidate"
  /** InvalidateAll answers on one instance; at once another creates and writes a session */
  | "invalidate-then-write"
  /** RevokeSessions answers on one instance; at once another reads the principal's sessions */
  | "revoke-then-read"
  /** a namespace never used before, created in on every instance at once */
  | "fresh-namespace";

/** DEFAULT_WEIGHTS say how often each step is chosen (relative). */
export const DEFAULT_WEIGHTS: Readonly<Record<Step, number>> = {
  append: 30,
  read: 22,
  create: 8,
  rotate: 4,
  bind: 5,
  delete: 2,
  invalidate: 3,
  revoke: 3,
  list: 3,
  "list-principal": 3,
  "race-invalidate": 2,
  "invalidate-then-write": 3,
  "revoke-then-read": 3,
  "fresh-namespace": 2,
};

/** WorkloadOptions shape a run of the list-append workload; `runWorkload` documents the run. */
export interface WorkloadOptions {
  /** seed chooses every step, session, instance, element and pause. */
  seed: number | string;
  /** namespaces the workload may use: it starts in the first two and brings in the others one by one. */
  namespaces: readonly string[];
  /** principals sessions are bound to and revoked. */
  principals: readonly string[];
  /** ops bounds the steps taken by all workers together (a scenario is one step of several operations). */
  ops: number;
  /** workers is how many callers run steps concurrently. */
  workers: number;
  /** thinkMs is the longest pause of a worker between steps (often none: races want back-to-back calls). */
  thinkMs: number;
  /** settleMs is the pause before the final reads and listings (past every cache of the old code). */
  settleMs: number;
  /** now is the recorder's clock in ms (virtual in the simulation, performance.now() on real processes). */
  now: () => number;
  /** pause waits ms on the run's clock. Default: setTimeout (virtual in the simulation). */
  pause?: (ms: number) => Promise<void>;
  /** shouldStop ends the run early (a time budget). */
  shouldStop?: () => boolean;
  /** weights override DEFAULT_WEIGHTS. */
  weights?: Partial<Record<Step, number>>;
}

/**
 * outcomeOf says what an error means for the history: `fail` when the status guarantees nothing was done
 * (INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED, FAILED_PRECONDITION, ABORTED, ALREADY_EXISTS), else
 * `unknown` (UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, a crash, an error with no code).
 */
export function outcomeOf(err: unknown): Outcome {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "number" && [3, 5, 6, 8, 9, 10].includes(code) ? "fail" : "unknown";
}

/** OpFields are what a caller says of an operation; the recorder adds its index, times and outcome. */
export type OpFields = Op extends infer O
  ? O extends Op
    ? Omit<O, "index" | "invokedMs" | "completedMs" | "outcome">
    : never
  : never;

/** Recorder turns calls into the operations of a History, and maps session ids and handles to names. */
export class Recorder {
  readonly history: History = { ops: [], faults: [] };
  private readonly ids = new Map<string, string>();
  private readonly handles = new Map<string, string>();

  constructor(private readonly now: () => number) {}

  /** call records one operation around `run`: invoked now, completed with its outcome; answers run's result or undefined. */
  async call<R>(fields: OpFields, run: () => Promise<R>, onOk?: (op: Op, result: R) => void) {
    const op = {
      ...fields,
      index: this.history.ops.length,
      invokedMs: this.now(),
      completedMs: Number.NaN,
      outcome: "unknown",
    } as Op;
    this.history.ops.push(op);
    try {
      const result = await run();
      op.completedMs = this.now();
      op.outcome = "ok";
      onOk?.(op, result);
      return result;
    } catch (err) {
      op.completedMs = this.now();
      op.outcome = outcomeOf(err);
      const code = (err as { code?: unknown } | null)?.code;
      op.error = `${typeof code === "number" ? `code ${code}: ` : ""}${(err as Error)?.message ?? String(err)}`;
      return undefined;
    }
  }

  /** fault records a fault the nemesis injected. */
  fault(fault: Fault): void {
    this.history.faults.push(fault);
  }

  /** name remembers that a session id and handle of a namespace stand for the named session. */
  name(namespace: string, session: string, sessionId: string | undefined, handle: string | undefined): void {
    if (sessionId) this.ids.set(`${namespace}/${sessionId}`, session);
    if (handle) this.handles.set(`${namespace}/${handle}`, session);
  }

  /** namedIds lists every session id the workload was given, with its namespace and session name. */
  namedIds(): Array<{ namespace: string; sessionId: string; session: string }> {
    return [...this.ids].map(([key, session]) => {
      const at = key.indexOf("/");
      return { namespace: key.slice(0, at), sessionId: key.slice(at + 1), session };
    });
  }

  /** sessionsOf maps listed ids (or handles) to session names, leaving out those the workload never made. */
  sessionsOf(namespace: string, listed: readonly string[], by: "id" | "handle"): string[] {
    const map = by === "id" ? this.ids : this.handles;
    return listed.flatMap((x) => map.get(`${namespace}/${x}`) ?? []).sort();
  }

  /** finish marks operations still waiting for an answer as unknown, completed at the end of the run. */
  finish(): History {
    for (const op of this.history.ops) {
      if (Number.isNaN(op.completedMs)) {
        op.completedMs = this.now();
        op.error ??= "no answer by the end of the run";
      }
    }
    return this.history;
  }
}

// Internal: what the workload believes of a session it made. Rotations and deletions take it alone.
interface Tracked {
  namespace: string;
  name: string;
  id: string;
  principal: string;
  users: number;
  alone: boolean;
  retired: boolean;
}

/**
 * runWorkload runs the list-append workload over `clients` (instances of one sessiond pool) and answers its
 * History. Workers start together, each creating and writing a session of the first namespace through its
 * own instance (a fresh namespace's first use from every instance at once); then each takes `ops` steps in
 * all, chosen by the seed: list-append transactions (each appends an element unique in the run), reads,
 * creations, rotations, bindings, deletions, InvalidateAll, revocations, listings and race scenarios.
 * Once done, it waits `settleMs` and reads every session and listing through every instance. Faults are
 * for the caller to inject meanwhile (`recorder.fault` records them).
 */
export async function runWorkload(
  clients: readonly WorkloadClient[],
  options: WorkloadOptions,
  recorder: Recorder = new Recorder(options.now),
): Promise<History> {
  const random = createRandom(options.seed);
  const weights = { ...DEFAULT_WEIGHTS, ...options.weights };
  const pause = options.pause ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const state = new WorkloadState(clients, options, recorder, random);
  let steps = 0;
  const worker = async (w: number) => {
    const client = clients[w % clients.length]!;
    const first = await state.create(client, options.namespaces[0]!, random.chance(0.5) ? random.pick(options.principals) : "");
    if (first) await state.append(client, first);
    while (steps < options.ops && !options.shouldStop?.()) {
      steps++;
      await state.step(random.weighted(weights));
      if (random.chance(0.6)) await pause(random.between(0, options.thinkMs));
    }
  };
  await Promise.all(Array.from({ length: options.workers }, (_, w) => worker(w)));
  await pause(options.settleMs);
  await state.finalReads();
  return recorder.finish();
}

// Internal: the sessions and namespaces of a run, and how each step drives the clients.
class WorkloadState {
  private readonly sessions: Tracked[] = [];
  private readonly active: string[];
  private nextElement = 1;
  private nextSession = 1;

  constructor(
    private readonly clients: readonly WorkloadClient[],
    private readonly options: WorkloadOptions,
    private readonly recorder: Recorder,
    private readonly random: Random,
  ) {
    this.active = options.namespaces.slice(0, Math.min(2, options.namespaces.length));
  }

  async step(step: Step): Promise<void> {
    const r = this.random;
    const client = r.pick(this.clients);
    const namespace = r.pick(this.active);
    const other = () => this.clients.find((c) => c !== client) ?? client;
    const principal = r.pick(this.options.principals);
    switch (step) {
      case "append":
        return this.withSession(namespace, false, (s) => this.append(client, s));
      case "read":
        return this.withSession(namespace, false, (s) => this.read(client, s));
      case "create":
        return void (await this.create(client, namespace, r.chance(0.5) ? principal : ""));
      case "rotate":
        return this.withSession(namespace, true, (s) => this.rotate(client, s, r.chance(0.3) ? principal : ""));
      case "bind":
        return this.withSession(namespace, false, (s) => this.bind(client, s, r.chance(0.85) ? principal : ""));
      case "delete":
        return this.withSession(namespace, true, (s) => this.deleteSession(client, s));
      case "invalidate":
        return this.invalidate(client, namespace);
      case "revoke":
        return this.revoke(client, namespace, principal);
      case "list":
        return this.list(client, namespace);
      case "list-principal":
        return this.listPrincipal(client, namespace, principal);
      case "race-invalidate":
        return void (await Promise.all([this.invalidate(client, namespace), this.invalidate(other(), namespace)]));
      case "invalidate-then-write": {
        await this.invalidate(client, namespace);
        const fresh = await this.create(other(), namespace, "");
        await this.withSession(namespace, false, (s) => this.append(other(), s));
        if (fresh) await this.use(fresh, false, () => this.append(other(), fresh));
        return;
      }
      case "revoke-then-read": {
        await this.revoke(client, namespace, principal);
        const bound = this.sessions.filter((s) => s.namespace === namespace && s.principal === principal && !s.retired);
        for (const s of bound.slice(0, 2)) await this.use(s, false, () => this.read(other(), s));
        return;
      }
      case "fresh-namespace": {
        const fresh = this.options.namespaces.find((n) => !this.active.includes(n));
        if (fresh === undefined) return void (await this.create(client, namespace, ""));
        this.active.push(fresh);
        const made = await Promise.all(this.clients.map((c) => this.create(c, fresh, r.chance(0.5) ? principal : "")));
        await Promise.all(made.map((s, i) => s && this.use(s, false, () => this.append(this.clients[i]!, s))));
        return;
      }
    }
  }

  async create(client: WorkloadClient, namespace: string, principal: string): Promise<Tracked | undefined> {
    const name = `s${this.nextSession++}`;
    const made = await this.recorder.call(
      { kind: "create", instance: client.instance, namespace, session: name, ...(principal ? { principal } : {}) },
      () => client.createSession(namespace, principal || undefined),
      (_op, r) => this.recorder.name(namespace, name, r.sessionId, r.handle),
    );
    if (made === undefined) return undefined;
    const tracked = { namespace, name, id: made.sessionId, principal, users: 0, alone: false, retired: false };
    this.sessions.push(tracked);
    return tracked;
  }

  append(client: WorkloadClient, s: Tracked): Promise<unknown> {
    const element = this.nextElement++;
    const fields = { kind: "append" as const, instance: client.instance, namespace: s.namespace, session: s.name, element };
    return this.recorder.call(
      fields,
      () => client.appendTx(s.namespace, s.id, element),
      (op, list) => {
        (op as { read?: readonly number[] }).read = list;
      },
    );
  }

  read(client: WorkloadClient, s: Tracked): Promise<unknown> {
    return this.recorder.call(
      { kind: "read", instance: client.instance, namespace: s.namespace, session: s.name },
      () => client.read(s.namespace, s.id),
      (op, list) => {
        (op as { list?: readonly number[] }).list = list;
      },
    );
  }

  async rotate(client: WorkloadClient, s: Tracked, principal: string): Promise<void> {
    const fields = { kind: "rotate" as const, instance: client.instance, namespace: s.namespace, session: s.name };
    const moved = await this.recorder.call(
      principal ? { ...fields, principal } : fields,
      () => client.rotate(s.namespace, s.id, principal || undefined),
      (_op, r) => this.recorder.name(s.namespace, s.name, r.sessionId, r.handle),
    );
    if (moved === undefined)
      s.retired = true; // its id is no longer certain: leave it
    else {
      s.id = moved.sessionId;
      if (principal) s.principal = principal;
    }
  }

  async bind(client: WorkloadClient, s: Tracked, principal: string): Promise<void> {
    const handle = await this.recorder.call(
      { kind: "bind", instance: client.instance, namespace: s.namespace, session: s.name, principal },
      () => client.bind(s.namespace, s.id, principal),
      (_op, h) => this.recorder.name(s.namespace, s.name, undefined, h),
    );
    if (handle !== undefined) s.principal = principal;
  }

  async deleteSession(client: WorkloadClient, s: Tracked): Promise<void> {
    await this.recorder.call({ kind: "delete", instance: client.instance, namespace: s.namespace, session: s.name }, () =>
      client.deleteSession(s.namespace, s.id),
    );
    s.retired = true; // a deleted name is not written again: its list would start over under the same name
  }

  async invalidate(client: WorkloadClient, namespace: string): Promise<void> {
    await this.recorder.call({ kind: "invalidate", instance: client.instance, namespace }, () => client.invalidateAll(namespace));
  }

  async revoke(client: WorkloadClient, namespace: string, principal: string): Promise<void> {
    const done = await this.recorder.call({ kind: "revoke", instance: client.instance, namespace, principal }, () =>
      client.revoke(namespace, principal),
    );
    if (done !== undefined) {
      for (const s of this.sessions) if (s.namespace === namespace && s.principal === principal) s.principal = "";
    }
  }

  async list(client: WorkloadClient, namespace: string): Promise<void> {
    await this.recorder.call(
      { kind: "list", instance: client.instance, namespace },
      () => client.listSessions(namespace),
      (op, ids) => {
        (op as { sessions?: readonly string[] }).sessions = this.recorder.sessionsOf(namespace, ids, "id");
      },
    );
  }

  async listPrincipal(client: WorkloadClient, namespace: string, principal: string): Promise<void> {
    await this.recorder.call(
      { kind: "list-principal", instance: client.instance, namespace, principal },
      () => client.listPrincipalSessions(namespace, principal),
      (op, handles) => {
        (op as { sessions?: readonly string[] }).sessions = this.recorder.sessionsOf(namespace, handles, "handle");
      },
    );
  }

  /** finalReads reads every usable session and every listing through every instance, one at a time. */
  async finalReads(): Promise<void> {
    for (const namespace of this.active) {
      for (const s of this.sessions.filter((t) => t.namespace === namespace && !t.retired)) {
        for (const client of this.clients) await this.read(client, s);
      }
      for (const client of this.clients) {
        await this.list(client, namespace);
        for (const principal of this.options.principals) await this.listPrincipal(client, namespace, principal);
      }
    }
  }

  // withSession runs `run` on a random session of the namespace that is free for it (alone: no other user).
  private async withSession(namespace: string, alone: boolean, run: (s: Tracked) => Promise<unknown>): Promise<void> {
    const free = this.sessions.filter((s) => s.namespace === namespace && !s.retired && !s.alone && (!alone || s.users === 0));
    if (free.length === 0) return;
    await this.use(this.random.pick(free), alone, run);
  }

  private async use(s: Tracked, alone: boolean, run: (s: Tracked) => Promise<unknown>): Promise<void> {
    if (s.retired || s.alone || (alone && s.users > 0)) return;
    s.users++;
    s.alone = alone;
    try {
      await run(s);
    } finally {
      s.users--;
      s.alone = false;
    }
  }
}
