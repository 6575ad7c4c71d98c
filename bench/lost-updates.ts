/**
 * lost-updates is `npm run bench:lost-updates`: 20 concurrent requests of one session through one Express
 * app, each setting a different key, and how many keys the session kept, with SessiondStore and with
 * connect-memcached on the same memcached, side by side. Two ways: "all read first" holds every request
 * until all 20 have loaded the session (the race made certain), "as they come" lets them run freely.
 * Prints one line per store and way: keys kept per trial (`--trials`, default 10).
 */
import { parseArgs } from "node:util";
import connectMemcached from "connect-memcached";
import session from "express-session";
import { SessiondStore } from "../client/express/index.js";
import { createSessionClient } from "../client/index.js";
import { startWriterApp, writeConcurrently } from "../test/helpers/concurrent-writers.js";
import { startMemcached } from "../test/helpers/memcached.js";
import { startSessiond } from "../test/helpers/sessiond.js";

const REQUESTS = 20;

async function trials(store: unknown, expected: number, count: number): Promise<{ kept: number[]; overlap: number[] }> {
  const kept: number[] = [];
  const overlap: number[] = [];
  for (let i = 0; i < count; i++) {
    const app = await startWriterApp(store, expected);
    try {
      kept.push(await writeConcurrently(app, REQUESTS));
      overlap.push(app.maxInFlight());
    } finally {
      await app.close();
    }
  }
  return { kept, overlap };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { trials: { type: "string" } } });
  const count = Number(values.trials ?? 10);
  const memcached = await startMemcached();
  const sessiond = await startSessiond({ memcached: [memcached.address] });
  const client = createSessionClient(sessiond.address);
  const MemcachedStore = connectMemcached(session);
  const memcachedStore = new MemcachedStore({ hosts: [memcached.address] });
  const stores: Array<[string, unknown]> = [
    ["SessiondStore", new SessiondStore({ client })],
    ["connect-memcached", memcachedStore],
  ];
  // express-session adds listeners to its store once per app; each trial makes a new app.
  for (const [, store] of stores) (store as { setMaxListeners(n: number): void }).setMaxListeners(0);
  const lines = [
    `${REQUESTS} concurrent requests of one session, each setting its own key: keys kept per trial (${count} trials)`,
  ];
  try {
    for (const [way, expected] of [
      ["all read first", REQUESTS],
      ["as they come", 1],
    ] as const) {
      for (const [name, store] of stores) {
        const { kept, overlap } = await trials(store, expected, count);
        const mean = kept.reduce((a, b) => a + b, 0) / kept.length;
        lines.push(
          `${way.padEnd(15)} ${name.padEnd(18)} kept mean ${mean.toFixed(1)}/${REQUESTS}, min ${Math.min(...kept)}, max ${Math.max(...kept)} ` +
            `[${kept.join(" ")}]${expected > 1 ? `; requests in their handler at once: max ${Math.max(...overlap)}` : ""}`,
        );
      }
    }
  } finally {
    memcachedStore.client.end();
    client.close();
    await sessiond.stop();
    await memcached.stop();
  }
  console.log(lines.join("\n"));
}

main().catch((err: unknown) => {
  process.stderr.write(`lost-updates: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
