import type { Store } from "../store/store.js";
import { invalidArgument } from "./errors.js";
import type { Generations } from "./generations.js";
import type { Keys } from "./keys.js";
import { STAMP_SKEW_MS } from "./options.js";
import { handlesIn, identityOf, type ListEntry, type PrincipalList } from "./principal-list.js";
import type { PrincipalStamps } from "./principal-stamps.js";
import type { Logger } from "./session-index.js";
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, type SessionPage, type SessionSummary, summarize } from "./session-listing.js";
import { bindingOf } from "./session-record.js";
import type { SessionRepository } from "./session-repository.js";

/** PrincipalParts are what the operations on a principal's sessions need (internal to the core). */
export interface PrincipalParts {
  store: Store;
  keys: Keys;
  generations: Generations;
  repository: SessionRepository;
  principals: PrincipalList;
  stamps: PrincipalStamps;
  now: () => number;
  casAttempts: number;
  logger: Logger;
}

/**
 * listPrincipalSessions pages through a principal's live sessions, ordered by handle, never with their
 * ids. It reads the principal's list (one multi-get) and the sessions of one page (one multi-get per
 * page of entries): time proportional to that principal's sessions, not the namespace's. Dead entries it
 * meets are pruned under compare-and-swap. The page token is `h:<last handle>`.
 */
export async function listPrincipalSessions(
  parts: PrincipalParts,
  namespace: string,
  principal: string,
  pageSize: number,
  pageToken: string,
): Promise<SessionPage> {
  if (!(Number.isInteger(pageSize) && pageSize >= 0 && pageSize <= MAX_PAGE_SIZE)) {
    throw invalidArgument(`page_size ${pageSize} is invalid: use 0 (default ${DEFAULT_PAGE_SIZE}) to ${MAX_PAGE_SIZE}`);
  }
  const limit = pageSize === 0 ? DEFAULT_PAGE_SIZE : pageSize;
  const after = parseToken(pageToken);
  const generation = await parts.generations.current(namespace);
  const entries = (await parts.principals.read(namespace, generation, principal)).filter((e) => e.handle > after);
  const sessions: SessionSummary[] = [];
  const dead: ListEntry[] = [];
  const stampOf = parts.repository.stampReader();
  let nextPageToken = "";
  for (let start = 0; start < entries.length && nextPageToken === ""; start += limit) {
    const batch = entries.slice(start, start + limit);
    const found = await parts.store.getMany(batch.map((e) => parts.keys.sessionByHash(namespace, generation, e.keyHash)));
    for (const entry of batch) {
      const item = found.get(parts.keys.sessionByHash(namespace, generation, entry.keyHash));
      const stored = parts.repository.fromEntry(namespace, generation, entry, item?.value, item?.version);
      const live = stored?.record?.principal === principal && !(await parts.repository.isRevoked(stored, stampOf));
      // A handle listed twice (a rotation appends its new key) shows once: the older key is gone.
      if (!live || sessions.at(-1)?.handle === entry.handle) {
        dead.push(entry);
        continue;
      }
      if (sessions.length === limit) {
        nextPageToken = `h:${sessions.at(-1)!.handle}`;
        break;
      }
      sessions.push(summarize(stored.record!, stored.settings, ""));
    }
  }
  await prune(parts, namespace, generation, principal, dead);
  return { sessions, nextPageToken };
}

/**
 * revokeSessions revokes sessions of a principal and answers how many:
 * - handles given: those sessions are deleted (by compare-and-swap, each), except the except_handles;
 * - no handles: the principal's not-before stamp is raised to now (the same few writes whatever the count),
 *   after re-binding the except_handles' sessions at that time. The order matters: re-bound first, a kept
 *   session is never older than the stamp, so it never reads as revoked, not even for a moment; were the
 *   stamp raised first, kept sessions would read absent until re-bound, and lost if the call failed between.
 *   A session bound after the revoke is newer than the stamp: not affected. The count is then the number of
 *   handles listed for the principal (its counter, see PrincipalList), less the kept ones (a session that
 *   just expired by itself may count), and the list is cleared of the revoked entries (compare-and-swap
 *   per shard, after the raise, in the background: reading the whole list is the one cost that grows).
 */
export async function revokeSessions(
  parts: PrincipalParts,
  namespace: string,
  principal: string,
  handles: readonly string[],
  exceptHandles: readonly string[],
): Promise<number> {
  const generation = await parts.generations.current(namespace);
  const keep = new Set(exceptHandles);
  if (handles.length > 0) {
    const entries = await parts.principals.read(namespace, generation, principal);
    const wanted = new Set(handles.filter((h) => !keep.has(h)));
    const revoked = new Set<string>();
    const targets = entries.filter((e) => wanted.has(e.handle));
    for (const entry of targets) {
      if (!revoked.has(entry.handle) && (await deleteEntry(parts, namespace, generation, principal, entry))) {
        revoked.add(entry.handle);
      }
    }
    await prune(parts, namespace, generation, principal, targets);
    return revoked.size;
  }
  // The count first: the list's counter (one command), or, when it is absent, the list itself.
  const counter = await parts.principals.count(namespace, generation, principal);
  const counted = counter ?? (await countListed(parts, namespace, generation, principal));
  // Every session counted was bound by now (a record is written before its entry) on this instance's clock,
  // or up to STAMP_SKEW_MS later on an instance whose clock is ahead, or at the current stamp (a binding
  // after an earlier revocation, see SessionRepository.bindingTime): a stamp later than all of that revokes
  // them all. Sessions bound after the answer are bound at or past the new stamp.
  const settings = parts.repository.settingsOf(namespace);
  const stampMs = Math.max(parts.now() + STAMP_SKEW_MS, await parts.stamps.stampOf(namespace, principal, settings)) + 1;
  const kept = new Set<string>();
  if (keep.size > 0) {
    for (const entry of await parts.principals.read(namespace, generation, principal, keep)) {
      if (!kept.has(entry.handle) && (await rebind(parts, namespace, generation, principal, entry, stampMs))) {
        kept.add(entry.handle);
      }
    }
  }
  await parts.stamps.raise(namespace, principal, stampMs, parts.repository.settingsOf(namespace));
  const revoked = Math.max(counted - kept.size, 0);
  // Off the count: what this revocation counted. Were the count absent, one is made for the kept sessions.
  if (counter === undefined) await parts.principals.discount(namespace, generation, principal, -kept.size);
  else await parts.principals.discount(namespace, generation, principal, revoked);
  // Only after the raise, and after the answer is on its way: the revoked sessions' entries go (the kept
  // ones stay, and so do sessions bound after the stamp). Reading the whole list is the one cost that grows
  // with the count: the caller does not wait for it (clear logs its failures).
  setImmediate(() => void parts.principals.clear(namespace, generation, principal, stampMs, kept));
  return revoked;
}

// countListed counts the sessions of a principal's list that no earlier revocation of all revoked.
async function countListed(parts: PrincipalParts, namespace: string, generation: string, principal: string) {
  const stampMs = await parts.stamps.stampOf(namespace, principal, parts.repository.settingsOf(namespace));
  return handlesIn(await parts.principals.snapshot(namespace, generation, principal), stampMs);
}

// deleteEntry deletes the live session of a list entry if it is still bound to the principal.
async function deleteEntry(parts: PrincipalParts, namespace: string, generation: string, principal: string, entry: ListEntry) {
  for (let attempt = 0; attempt < parts.casAttempts; attempt++) {
    const stored = await parts.repository.readByHash(namespace, generation, entry);
    if (stored?.record?.principal !== principal) return false;
    if (await parts.repository.remove(stored)) return true;
  }
  return false;
}

// rebind moves the binding time of a kept session to the stamp about to be raised.
async function rebind(
  parts: PrincipalParts,
  namespace: string,
  generation: string,
  principal: string,
  entry: ListEntry,
  boundAtMs: number,
) {
  for (let attempt = 0; attempt < parts.casAttempts; attempt++) {
    const stored = await parts.repository.readByHash(namespace, generation, entry);
    const record = stored?.record;
    if (stored === undefined || record?.principal !== principal) return false;
    const binding = { ...bindingOf(record), boundAtMs };
    if (await parts.repository.write(stored, record.packages, false, { binding })) return true;
  }
  return false;
}

// prune removes dead entries from their shards, confirming each right before the compare-and-swap.
async function prune(parts: PrincipalParts, namespace: string, generation: string, principal: string, dead: ListEntry[]) {
  const byShard = new Map<number, Set<string>>();
  for (const e of dead) byShard.set(e.shard, (byShard.get(e.shard) ?? new Set()).add(identityOf(e)));
  for (const [shard, only] of byShard) {
    await parts.principals.prune(
      namespace,
      generation,
      principal,
      shard,
      (entries) => parts.repository.deadEntries(namespace, generation, principal, entries),
      only,
    );
  }
}

function parseToken(token: string): string {
  if (token === "") return "";
  if (!/^h:[A-Za-z0-9_-]{16,64}$/.test(token)) {
    throw invalidArgument("page_token is invalid: pass the next_page_token of the previous response unchanged");
  }
  return token.slice(2);
}
