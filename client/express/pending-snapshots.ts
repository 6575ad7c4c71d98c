import { distance, type Snapshot } from "./session-snapshot.js";

/** PENDING_TTL_MS is how long a snapshot waits for its request's `set` or `touch`: 10 minutes. */
const PENDING_TTL_MS = 10 * 60_000;
/** PENDING_PER_SESSION caps the snapshots kept for one session id (concurrent requests of one user). */
const PENDING_PER_SESSION = 64;
/** SWEEP_ABOVE is how many session ids may hold snapshots before stale ones are swept. */
const SWEEP_ABOVE = 1000;

/**
 * PendingSnapshots are the snapshots `get` handed out and no `set` or `touch` has claimed yet, per session
 * id (internal). express-session keeps the snapshot on the request's Session object (see createSession);
 * frameworks that copy what `get` answered into a new object (@fastify/session) lose it, so `set` then
 * claims the pending snapshot of that session id closest to the session it saves: its own request's,
 * unless that request changed exactly the keys that another committed in between.
 */
export interface PendingSnapshots {
  /** add records a snapshot handed out for `sid`. */
  add(sid: string, snapshot: Snapshot): void;
  /** forget drops one snapshot (its request keeps it on the session object instead). */
  forget(sid: string, snapshot: Snapshot): void;
  /** claim removes and answers the pending snapshot of `sid` closest to `current`, if any. */
  claim(sid: string, current: Snapshot): Snapshot | undefined;
  /** clear drops every snapshot of `sid` (the session was destroyed). */
  clear(sid: string): void;
}

interface Pending {
  snapshot: Snapshot;
  atMs: number;
}

/** createPendingSnapshots makes an empty PendingSnapshots (internal). */
export function createPendingSnapshots(now: () => number = Date.now): PendingSnapshots {
  const bySession = new Map<string, Pending[]>();

  function sweep(): void {
    const oldest = now() - PENDING_TTL_MS;
    for (const [sid, list] of bySession) {
      const live = list.filter((p) => p.atMs >= oldest);
      if (live.length === 0) bySession.delete(sid);
      else bySession.set(sid, live);
    }
  }

  return {
    add(sid, snapshot) {
      if (bySession.size > SWEEP_ABOVE) sweep();
      const list = bySession.get(sid) ?? [];
      list.push({ snapshot, atMs: now() });
      if (list.length > PENDING_PER_SESSION) list.shift();
      bySession.set(sid, list);
    },
    forget(sid, snapshot) {
      const list = bySession.get(sid);
      if (list === undefined) return;
      const rest = list.filter((p) => p.snapshot !== snapshot);
      if (rest.length === 0) bySession.delete(sid);
      else bySession.set(sid, rest);
    },
    claim(sid, current) {
      const list = bySession.get(sid);
      if (list === undefined) return undefined;
      let best: Pending | undefined;
      let bestDistance = Number.POSITIVE_INFINITY;
      for (const pending of list) {
        const d = distance(current, pending.snapshot);
        if (d < bestDistance) [best, bestDistance] = [pending, d];
      }
      this.forget(sid, best?.snapshot as Snapshot);
      return best?.snapshot;
    },
    clear(sid) {
      bySession.delete(sid);
    },
  };
}
