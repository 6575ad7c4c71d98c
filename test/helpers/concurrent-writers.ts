import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import session from "express-session";

/** WriterApp is an Express app whose requests each set one key of one session, all at once. */
export interface WriterApp {
  /** url is the app's base URL, e.g. "http://127.0.0.1:PORT". */
  readonly url: string;
  /** maxInFlight is the most `/write` requests that were inside their handler at the same time. */
  maxInFlight(): number;
  close(): Promise<void>;
}

/** BARRIER_MS bounds how long a `/write` request waits for the others to arrive. */
const BARRIER_MS = 5000;

/**
 * startWriterApp serves, on a free loopback port, an Express 5 app with express-session over `store`
 * (resave false, saveUninitialized false, as the express-session docs advise): `GET /start` creates a
 * session; `GET /write?key=K` sets `req.session[K] = true` once `expected` write requests have loaded the
 * session (or BARRIER_MS passed), so that they all read it before any writes it: the race of two tabs, a
 * page and its XHRs, made certain; `GET /keys` answers the session's keys set by `/write`.
 */
export async function startWriterApp(store: unknown, expected: number): Promise<WriterApp> {
  const app = express();
  app.use(session({ secret: "sessiond-test", resave: false, saveUninitialized: false, store }));
  let inFlight = 0;
  let maxInFlight = 0;
  let arrived = 0;
  const waiting: Array<() => void> = [];
  app.get("/start", (req: { session: Record<string, unknown> }, res: { send(body: string): void }) => {
    req.session.startedAt = Date.now();
    res.send("started");
  });
  app.get(
    "/write",
    async (req: { session: Record<string, unknown>; query: { key: string } }, res: { send(body: string): void }) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      arrived++;
      if (arrived >= expected) for (const release of waiting.splice(0)) release();
      else await new Promise<void>((resolve) => waiting.push(resolve) && setTimeout(resolve, BARRIER_MS).unref());
      req.session[req.query.key] = true;
      inFlight--;
      res.send("written");
    },
  );
  app.get("/keys", (req: { session: Record<string, unknown> }, res: { json(body: unknown): void }) => {
    res.json(Object.keys(req.session).filter((key) => key.startsWith("key-")));
  });
  const server: Server = await new Promise((resolve) => {
    const listening = app.listen(0, "127.0.0.1", () => resolve(listening));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    maxInFlight: () => maxInFlight,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * writeConcurrently starts a session on `app`, sends `count` `/write` requests of that session at once, each
 * with its own key, and answers how many of those keys the session kept.
 */
export async function writeConcurrently(app: WriterApp, count: number): Promise<number> {
  const started = await fetch(`${app.url}/start`);
  const cookie = started.headers.get("set-cookie")?.split(";")[0];
  if (!cookie) throw new Error("GET /start answered no session cookie");
  await started.text(); // express-session saves between the headers and the end of the body
  const writes = Array.from({ length: count }, (_, i) => fetch(`${app.url}/write?key=key-${i}`, { headers: { cookie } }));
  for (const answer of await Promise.all(writes)) {
    if (!answer.ok) throw new Error(`GET /write answered ${answer.status}`);
    await answer.text();
  }
  const keys = (await (await fetch(`${app.url}/keys`, { headers: { cookie } })).json()) as string[];
  return keys.length;
}
