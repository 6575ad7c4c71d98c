// SessiondStore as @fastify/session's store, through a real Fastify app over a real sessiond and memcached:
// a session lives across requests, sits where sessiond's own clients see it, is destroyed on logout, and
// concurrent requests of one session that set different keys all keep their key there too.
import fastifyCookie from "@fastify/cookie";
import fastifySession from "@fastify/session";
import { expect } from "chai";
import Fastify, { type FastifyInstance } from "fastify";
import { SessiondStore } from "../client/express/index.js";
import { useSessiond } from "./helpers/fixture.js";

declare module "fastify" {
  interface Session {
    visits?: number;
    [key: `key-${number}`]: boolean;
  }
}

const REQUESTS = 20;

describe("SessiondStore as the store of @fastify/session", function () {
  this.timeout(30_000);
  const env = useSessiond();
  let app: FastifyInstance;
  let url: string;
  let arrived = 0;
  let maxInFlight = 0;
  let inFlight = 0;
  const waiting: Array<() => void> = [];

  before(async () => {
    app = Fastify();
    await app.register(fastifyCookie);
    await app.register(fastifySession, {
      secret: "a secret of at least thirty-two characters",
      store: new SessiondStore({ client: env.client, namespace: "fastify" }),
      saveUninitialized: false,
      cookie: { secure: false },
    });
    app.get("/visit", async (req) => {
      req.session.visits = (req.session.visits ?? 0) + 1;
      return { visits: req.session.visits };
    });
    app.get("/write", async (req) => {
      const { key, bump } = req.query as { key: `key-${number}`; bump?: string };
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      if (++arrived >= REQUESTS) for (const release of waiting.splice(0)) release();
      else await new Promise<void>((resolve) => waiting.push(resolve));
      req.session[key] = true;
      if (bump) req.session.visits = (req.session.visits ?? 0) + 1;
      inFlight--;
      return "written";
    });
    app.get("/logout", async (req) => {
      await req.session.destroy();
      return "bye";
    });
    url = await app.listen({ host: "127.0.0.1", port: 0 });
  });
  after(() => app.close());

  async function get(path: string, cookie?: string): Promise<{ body: string; cookie: string | undefined }> {
    const answer = await fetch(`${url}${path}`, cookie ? { headers: { cookie } } : {});
    const body = await answer.text();
    if (!answer.ok) throw new Error(`GET ${path} answered ${answer.status}: ${body}`);
    return { body, cookie: answer.headers.get("set-cookie")?.split(";")[0] ?? cookie };
  }

  // @fastify/session signs the session id into its cookie: "sessionId=<id>.<signature>".
  const sessionIdOf = (cookie: string) => decodeURIComponent(cookie.split("=")[1] ?? "").split(".")[0] ?? "";

  it("keeps a session across requests, in the namespace it was given, and destroys it on logout", async () => {
    const first = await get("/visit");
    expect(JSON.parse(first.body)).to.deep.equal({ visits: 1 });
    const cookie = first.cookie as string;
    expect(JSON.parse((await get("/visit", cookie)).body)).to.deep.equal({ visits: 2 });
    const stored = await env.client.session("fastify", sessionIdOf(cookie)).get("session");
    expect(stored.visits).to.equal(2);
    await get("/logout", cookie);
    expect(await env.client.session("fastify", sessionIdOf(cookie)).get("session")).to.deep.equal({});
    expect(JSON.parse((await get("/visit", cookie)).body)).to.deep.equal({ visits: 1 });
  });

  it("keeps every key of 20 overlapping requests of one session, and the one change to a shared key", async () => {
    const cookie = (await get("/visit")).cookie as string; // visits: 1
    // Request 0 also counts a visit: the 19 others, which read visits = 1, must not write it back.
    const writes = Array.from({ length: REQUESTS }, (_, i) => get(`/write?key=key-${i}${i === 0 ? "&bump=1" : ""}`, cookie));
    await Promise.all(writes);
    expect(maxInFlight, "requests inside their handler at once").to.equal(REQUESTS);
    const stored = await env.client.session("fastify", sessionIdOf(cookie)).get("session");
    expect(Object.keys(stored).filter((key) => key.startsWith("key-"))).to.have.length(REQUESTS);
    expect(stored.visits).to.equal(2);
  });
});
