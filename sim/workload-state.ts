import type { Random } from "./random.js";
import type { Recorder } from "./recorder.js";
import type { Step, WorkloadOptions } from "./workload.js";
import type { WorkloadClient } from "./workload-client.js";

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
 * WorkloadState is what a run of the list-append workload knows (its sessions, by name, and the
 * namespaces in use) and how each step drives the clients, recording every call. Internal to workload.ts.
 */
export class WorkloadState {
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

  /** use runs `run` on a session unless a rotation or deletion has it (or, when `alone`, anyone has it). */
  async use(s: Tracked, alone: boolean, run: (s: Tracked) => Promise<unknown>): Promise<void> {
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
