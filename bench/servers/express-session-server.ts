/**
 * express-session-server is the peer a Node team would otherwise use, as its own process:
 * express 5 + express-session + connect-memcached (node-memcached underneath), default options.
 * `node --import tsx bench/servers/express-session-server.ts --listen 127.0.0.1:PORT --memcached HOST:PORT`;
 * with `--sessiond HOST:PORT` the same app keeps its sessions in that sessiond through SessiondStore instead
 * (namespace "express", a `set` writes only the changed key: here the counter).
 * Routes: `GET /seed` creates a session holding the ~1 KB package and a counter (answers the cookie);
 * `GET /rmw` reads one session value (the counter), writes it back incremented and answers the old value,
 * so express-session does one memcached get and one set per request.
 */
import { parseArgs } from "node:util";
import connectMemcached from "connect-memcached";
import express from "express";
import session from "express-session";
import { SessiondStore } from "../../client/express/index.js";
import { PACKAGE, sessionPayload } from "../lib/workload.js";

/** SessionBag is the part of express-session's `req.session` the routes use. */
interface SessionBag {
  [PACKAGE]?: Record<string, unknown>;
  visits?: number;
}

interface RouteRequest {
  session: SessionBag;
}

interface RouteResponse {
  send(body: string): void;
}

function main(): void {
  const { values } = parseArgs({
    options: { listen: { type: "string" }, memcached: { type: "string" }, sessiond: { type: "string" } },
  });
  const [host, port] = (values.listen ?? "127.0.0.1:0").split(":");
  const MemcachedStore = connectMemcached(session);
  const app = express();
  app.use(
    session({
      secret: "sessiond-bench",
      resave: false,
      saveUninitialized: false,
      store:
        values.sessiond === undefined
          ? new MemcachedStore({ hosts: [values.memcached ?? "127.0.0.1:11211"] })
          : new SessiondStore({ address: values.sessiond }),
    }),
  );
  app.get("/seed", (req: RouteRequest, res: RouteResponse) => {
    req.session[PACKAGE] = sessionPayload();
    req.session.visits = 0;
    res.send("0");
  });
  app.get("/rmw", (req: RouteRequest, res: RouteResponse) => {
    const visits = req.session.visits ?? 0;
    req.session.visits = visits + 1;
    res.send(String(visits));
  });
  const server = app.listen(Number(port), host);
  server.keepAliveTimeout = 60_000;
  const shutdown = () => {
    server.closeAllConnections();
    process.exit(0);
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
  process.on("disconnect", shutdown); // the bench that started this process is gone
}

main();
