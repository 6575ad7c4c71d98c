import { Agent, get } from "node:http";
import type { LoadConfig } from "../lib/workload.js";
import type { Operation, PreparedLoad } from "./grpc-drivers.js";

interface HttpAnswer {
  status: number;
  body: string;
  setCookie: string[];
}

function request(agent: Agent, port: number, path: string, cookie: string | undefined): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const headers = cookie ? { cookie } : {};
    const req = get({ host: "127.0.0.1", port, path, agent, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, setCookie: res.headers["set-cookie"] ?? [] }));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
}

/**
 * prepareHttp seeds one express-session per virtual client (`GET /seed` stores the ~1 KB package and
 * returns the session cookie), checks that a read-modify-write round-trips through memcached, and returns
 * the virtual clients: each does `GET /rmw` (read one session value, write it back changed) over HTTP/1.1
 * keep-alive, one socket per virtual client.
 */
export async function prepareHttp(config: LoadConfig): Promise<PreparedLoad> {
  const agent = new Agent({ keepAlive: true, maxSockets: config.concurrency, maxFreeSockets: config.concurrency });
  const operations: Operation[] = [];
  for (let c = 0; c < config.concurrency; c++) {
    const seeded = await request(agent, config.port, "/seed", undefined);
    const cookie = seeded.setCookie[0]?.split(";")[0];
    if (seeded.status !== 200 || !cookie) throw new Error(`GET /seed answered ${seeded.status} without a session cookie`);
    if (c === 0) await checkRoundTrip(agent, config.port, cookie);
    operations.push(async () => {
      const answer = await request(agent, config.port, "/rmw", cookie);
      if (answer.status !== 200) throw new Error(`GET /rmw answered ${answer.status}`);
      return true;
    });
  }
  return { operations, close: () => agent.destroy() };
}

async function checkRoundTrip(agent: Agent, port: number, cookie: string): Promise<void> {
  const first = Number((await request(agent, port, "/rmw", cookie)).body);
  const second = Number((await request(agent, port, "/rmw", cookie)).body);
  if (second !== first + 1) throw new Error(`express session did not persist its counter (${first} then ${second})`);
}
