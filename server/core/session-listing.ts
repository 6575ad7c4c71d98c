import type { SessionRecord } from "../../gen/sessiond/record/v1/record_pb.js";
import type { Store } from "../store/store.js";
import type { LogSegment } from "./append-log.js";
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
 * listSessions walks the namespace's index shard by shard; within a shard, the ids of every period's items
 * merged, deduplicated and sorted. It returns the live sessions (fetched with one multi-get per batch),
 * each once per full listing. The index items it read whole are compacted: ids of dead sessions (expired,
 * deleted) and duplicates are dropped by compare-and-swap. The page token is
 * `<shard>:<base64url of the last id>`: the walk resumes after it.
 */
export async function listSessions(parts: Parts, namespace: string, pageSize: number, pageToken: string): Promise<SessionPage> {
  if (!(Number.isInteger(pageSize) && pageSize >= 0 && pageSize <= MAX_PAGE_SIZE)) {
    throw invalidArgument(`page_size ${pageSize} is invalid: use 0 (default ${DEFAULT_PAGE_SIZE}) to ${MAX_PAGE_SIZE}`);
  }
  const limit = pageSize === 0 ? DEFAULT_PAGE_SIZE : pageSize;
  let { shard, after } = parseToken(pageToken, parts.index.shards);
  const generation = await parts.generations.current(namespace);
  const settings = parts.repository.settingsOf(namespace);
  const sessions: SessionSummary[] = [];

  for (; shard < parts.index.shards; shard++, after = "") {
    const segments = await parts.index.read(namespace, generation, shard, settings);
    const ids = [...new Set(segments.flatMap((s) => s.entries))].filter((id) => id > after).sort();
    const dead = new Set<string>();
    for (let start = 0; start < ids.length; start += limit) {
      const batch = ids.slice(start, start + limit);
      const live = await liveSessions(parts, namespace, generation, batch);
      for (const id of batch) {
        const summary = live.get(id);
        if (summary === undefined) {
          dead.add(id);
          continue;
        }
        sessions.push(summary);
        if (sessions.length === limit) {
          await compact(parts, namespace, segments, dead, settings);
          return { sessions, nextPageToken: `${shard}:${Buffer.from(id, "latin1").toString("base64url")}` };
        }
      }
    }
    await compact(parts, namespace, segments, dead, settings);
  }
  return { sessions, nextPageToken: "" };
}

async function liveSessions(parts: Parts, namespace: string, generation: string, ids: readonly string[]) {
  const keyOf = new Map(ids.map((id) => [id, parts.keys.session(namespace, generation, id)]));
  const found = await parts.store.getMany([...keyOf.values()]);
  const live = new Map<string, SessionSummary>();
  const stampOf = parts.repository.stampReader();
  for (const [id, key] of keyOf) {
    const item = found.get(key);
    const stored = parts.repository.toStored(namespace, id, generation, key, item?.value, item?.version);
    if (stored.record === undefined || (await parts.repository.isRevoked(stored, stampOf))) continue;
    live.set(id, summarize(stored.record, stored.settings, id));
  }
  return live;
}

// compact drops dead ids and duplicates from the items that hold any. An id found dead cannot come back
// unnoticed: a write that revives it appends it again, which either changes the item's version (the
// compaction's compare-and-swap fails) or puts it in the current period's item.
async function compact(
  parts: Parts,
  namespace: string,
  segments: readonly LogSegment[],
  dead: ReadonlySet<string>,
  settings: NamespaceSettings,
) {
  for (const segment of segments) {
    const wasted = segment.entries.length - new Set(segment.entries).size + segment.entries.filter((id) => dead.has(id)).length;
    if (wasted > 0) await parts.index.compact(namespace, segment, dead, settings);
  }
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
