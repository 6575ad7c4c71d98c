import { randomBytes } from "node:crypto";
import express from "express";
import session from "express-session";
import { SessiondStore } from "../../client/express/index.js";
import type { SessionClient } from "../../client/index.js";
import { type Device, devicesPage, loginPage, PRODUCTS, shopPage } from "./pages.js";

/** ShopOptions configure `createShopApp`. */
export interface ShopOptions {
  /** client reaches sessiond. */
  client: SessionClient;
  /** namespace holds the shop's sessions. Default "shop". */
  namespace?: string;
  /** addDelayMs holds each "add to cart" between reading and saving the session (tests make tabs overlap). Default 0. */
  addDelayMs?: number;
}

/** Shop is the example's Express app and what tests read from it. */
export interface Shop {
  /** app is the Express app (listen on it). */
  app: { listen(port: number, host: string, ready: () => void): import("node:http").Server };
  /** maxConcurrentAdds is the most "add to cart" requests that were in progress at once. */
  maxConcurrentAdds(): number;
}

interface ShopSession {
  id: string;
  user?: string;
  regenerate(done: (err?: unknown) => void): void;
  save(done: (err?: unknown) => void): void;
  destroy(done: (err?: unknown) => void): void;
  [key: string]: unknown;
}
interface ShopRequest {
  session: ShopSession;
  sessionID: string;
  body: Record<string, string>;
  get(header: string): string | undefined;
  rotatedId?: string;
}
interface ShopResponse {
  send(body: string): void;
  redirect(status: number, path: string): void;
}

const CART = "cart:"; // one session key per product: two tabs adding different products never collide

const call = (fn: (done: (err?: unknown) => void) => void) =>
  new Promise<void>((resolve, reject) => fn((err) => (err ? reject(err) : resolve())));

/**
 * createShopApp makes the shop: log in (RotateSession with the user as principal: a new session id at the
 * login moment), a cart kept by express-session in SessiondStore, "your devices" (ListPrincipalSessions) and
 * "log out everywhere" (RevokeSessions).
 */
export function createShopApp(options: ShopOptions): Shop {
  const { client, namespace = "shop", addDelayMs = 0 } = options;
  let adding = 0;
  let maxAdding = 0;
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(
    session({
      store: new SessiondStore({ client, namespace }),
      secret: randomBytes(32).toString("hex"),
      resave: false,
      saveUninitialized: false,
      // At login the session takes the id RotateSession gave it; otherwise express-session's own.
      genid: (req: ShopRequest) => req.rotatedId ?? randomBytes(24).toString("base64url"),
      cookie: { httpOnly: true, sameSite: "lax" },
    }),
  );

  app.get("/", (req: ShopRequest, res: ShopResponse) => {
    const { user } = req.session;
    if (user === undefined) return res.send(loginPage());
    const cart = Object.fromEntries(
      Object.entries(req.session)
        .filter(([key]) => key.startsWith(CART))
        .map(([key, count]) => [key.slice(CART.length), count as number]),
    );
    res.send(shopPage(user, cart));
  });

  app.post("/login", async (req: ShopRequest, res: ShopResponse) => {
    const user = String(req.body.user ?? "").trim();
    if (user === "") return res.redirect(303, "/");
    // A new id bound to the user, in one call; the cart so far moves with it. Then the device's facts.
    const rotated = await client.session(namespace, req.sessionID).rotate({ principal: user });
    await rotated.setPrincipal(user, { user_agent: (req.get("user-agent") ?? "unknown").slice(0, 256) });
    req.rotatedId = rotated.id;
    await call((done) => req.session.regenerate(done));
    req.session.user = user;
    await call((done) => req.session.save(done)); // express-session sends a redirect before its own save ends
    res.redirect(303, "/");
  });

  app.post("/cart", async (req: ShopRequest, res: ShopResponse) => {
    const product = req.body.product ?? "";
    if (req.session.user === undefined || !(PRODUCTS as readonly string[]).includes(product)) return res.redirect(303, "/");
    maxAdding = Math.max(maxAdding, ++adding);
    try {
      if (addDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, addDelayMs));
      const key = `${CART}${product}`;
      req.session[key] = ((req.session[key] as number | undefined) ?? 0) + 1;
      await call((done) => req.session.save(done));
    } finally {
      adding--;
    }
    res.redirect(303, "/");
  });

  app.get("/devices", async (req: ShopRequest, res: ShopResponse) => {
    const { user } = req.session;
    if (user === undefined) return res.redirect(303, "/");
    const current = await client.session(namespace, req.sessionID).describe();
    const devices: Device[] = [];
    for await (const s of client.principal(namespace, user).sessions()) {
      const lastSeen = s.lastAccessedAt?.toISOString() ?? "";
      devices.push({
        handle: s.handle,
        userAgent: s.attributes.user_agent ?? "",
        lastSeen,
        current: s.handle === current.handle,
      });
    }
    res.send(devicesPage(user, devices));
  });

  app.post("/logout-everywhere", async (req: ShopRequest, res: ShopResponse) => {
    const { user } = req.session;
    if (user !== undefined) await client.principal(namespace, user).revoke();
    await call((done) => req.session.destroy(done));
    res.redirect(303, "/");
  });

  return { app, maxConcurrentAdds: () => maxAdding };
}
