/**
 * The shop example (`npm run example:shop`): an Express shop whose sessions live in sessiond through
 * SessiondStore. It serves on http://127.0.0.1:3000 (PORT to change) and talks to the sessiond at
 * SESSIOND_ADDRESS, or, without it, to one it starts in this process over its memory store (or over
 * memcached with MEMCACHED=host:port).
 */
import { createSessionClient } from "../../client/index.js";
import { loadConfig } from "../../server/config/config.js";
import { createLogger, createSessiond } from "../../server/sessiond.js";
import { createShopApp } from "./shop-app.js";

async function sessiondAddress(): Promise<string> {
  if (process.env.SESSIOND_ADDRESS) return process.env.SESSIOND_ADDRESS;
  const flags = ["--listen", "127.0.0.1:0", ...(process.env.MEMCACHED ? ["--memcached", process.env.MEMCACHED] : [])];
  const sessiond = createSessiond(loadConfig(flags, {}), createLogger("error"));
  return sessiond.start();
}

async function main(): Promise<void> {
  const address = await sessiondAddress();
  const client = createSessionClient(address);
  const port = Number(process.env.PORT ?? 3000);
  const { app } = createShopApp({ client });
  app.listen(port, "127.0.0.1", () => {
    console.log(`shop on http://127.0.0.1:${port} (sessiond at ${address}); Ctrl-C to stop`);
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
