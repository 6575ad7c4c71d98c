import type { SessionRecord } from "../../gen/sessiond/record/v1/record_pb.js";
import type { Store } from "../store/store.js";
import { invalidArgument } from "./errors.js";
import type { Generations } from "./generations.js";
import type { Keys } from "./keys.js";
import type { NamespaceSettings } from "./options.js";
import type { SessionIndex } from "./session-index.js";
import { expiresAtMs } from "./session-record.js";
import type { SessionRepository } from "./session-repository.js";

/** SessionSummary describes one live session in a listing or a DescribeSession, without its data. */
export interface SessionSummary {
  /** sessionId is the session's id; "" in a principal's listing, which never shows ids. */
  sessionId: string;
  handle: string;
  principal: string;
  attributes: Record<string, string>;
  packages: string[];
  createdAtMs: number;
  lastAccessedMs: number;
  /** expiresAtMs is the earlier of idle and absolute expiry. */
  expiresAtMs: number;
}

/** summarize describes a live record (sessionId "" to leave the id out). */
export function summarize(record: SessionRecord, settings: NamespaceSettings, sessionId: string): SessionSummary {
  return {
    sessionId,
    handle: record.handle,
    principal: record.principal,
    attributes: { ...record.attributes },
    packages: Object.keys(record.packages).sort(),
    createdAtMs: Number(record.createdAtMs),
    lastAccessedMs: Number(record.lastAccessedMs),
    expiresAtMs: expiresAtMs(record, settings),
  };
}

/** SessionPage is one page of a listing; nextPageToken is "" at the end. */
export interface SessionPage {
  sessions: SessionSummary[];
  nextPageToken: string;
}

/** DEFAULT_PAGE_SIZE and MAX_PAGE_SIZE bound ListSessions pages. */
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

interface Parts {
  store: Store;
  keys: Keys;
  generations: Generations;
  index: SessionIndex;
  repository: SessionRepository;
}

/**
 * listSessions walks the namespace's index shard by shard, ids in order within a shard, and returns the
 * live sessions (fetched with one multi-get per batch). Dead ids (expired, deleted) it meets are pruned
 * from their shard. The page token is `<shard>:<base64url of the last id>`: the walk resumes after it.
 */
export async function listSessions(parts: Parts, namespace: string, pageSize: number, pageToken: string): Promise<SessionPage> {
  if (!(Number.isInteger(pageSize) && pageSize >= 0 && pageSize <= MAX_PAGE_SIZE)) {
    throw invalidArgument(`page_size ${pageSize} is invalid: use 0 (default ${DEFAULT_PAGE_SIZE}) to ${MAX_PAGE_SIZE}`);
  }
  const limit = pageSize === 0 ? DEFAULT_PAGE_SIZE : pageSize;
  let { shard, after } = parseToken(pageToken, parts.index.shards);
  const generation = await parts.generations.current(namespace);
  const sessions: SessionSummary[] = [];

  for (; shard < parts.index.shards; shard++, after = "") {
    const ids = (await parts.index.read(namespace, generation, shard)).filter((id) => id > after);
    const dead: string[] = [];
    for (let start = 0; start < ids.length; start += limit) {
      const batch = ids.slice(start, start + limit);
      const live = await liveSessions(parts, namespace, generation, batch);
      for (const id of batch) {
        const summary = live.get(id);
        if (summary === undefined) {
          dead.push(id);
          continue;
        }
        sessions.push(summary);
        if (sessions.length === limit) {
          await prune(parts, namespace, generation, shard, dead);
          return { sessions, nextPageToken: `${shard}:${Buffer.from(id, "latin1").toString("base64url")}` };
        }
      }
    }
    await prune(parts, namespace, generation, shard, dead);
  }
  return { sessions, nextPageToken: "" };
}

async function liveSessions(parts: Parts, namespace: string, generation: string, ids: readonly string[]) {
  const keyOf = new Map(ids.map((id) => [id, parts.keys.session(namespace, generation, id)]));
  const found = await parts.store.getMany([...keyOf.values()]);
  const live = new Map<string, SessionSummary>();
  for (const [id, key] of keyOf) {
    const item = found.get(key);
    const stored = await parts.repository.unlessRevoked(
      parts.repository.toStored(namespace, id, generation, key, item?.value, item?.version),
    );
    if (stored.record === undefined) continue;
    live.set(id, summarize(stored.record, stored.settings, id));
  }
  return live;
}

async function prune(parts: Parts, namespace: string, generation: string, shard: number, dead: string[]) {
  if (dead.length === 0) return;
  await parts.index.prune(namespace, generation, shard, dead, async (ids) => {
    const live = await liveSessions(parts, namespace, generation, ids);
    return new Set(ids.filter((id) => !live.has(id)));
  });
}

function parseToken(token: string, shards: number): { shard: number; after: string } {
  if (token === "") return { shard: 0, after: "" };
  const match = /^(\d{1,4}):([A-Za-z0-9_-]+)$/.exec(token);
  const shard = match ? Number(match[1]) : NaN;
  if (!match || !(shard < shards)) {
    throw invalidArgument("page_token is invalid: pass the next_page_token of the previous response unchanged");
  }
  return { shard, after: Buffer.from(match[2]!, "base64url").toString("latin1") };
}
