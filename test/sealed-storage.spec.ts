// sessiond with data keys, end to end over a real memcached: after a scenario no memcached item holds a
// session id, package name or value in clear (raw, hex or base64); a record moved to another session's key
// or with a flipped byte reads as an empty session through the SDK and grpcurl, logs one warn line, and the
// session can be written again (unary and in a transaction).

import { createHash } from "node:crypto";
import type { JsonObject } from "@bufbuild/protobuf";
import { expect } from "chai";
import { pino } from "pino";
import { createSessionClient, type SessionClient } from "../client/index.js";
import { createMemcachedStore } from "../server/store/memcached-store.js";
import type { Store } from "../server/store/store.js";
import { keyLine, keysOf } from "./helpers/data-keys.js";
import { dumpKeys, type MemcachedProcess, startMemcached, startMemcachedPool } from "./helpers/memcached.js";
import { connectReflection, findMethod, invoke, resolveSymbol } from "./helpers/ops-grpcurl.js";
import { type RunningSessiond, startSessiond } from "./helpers/sessiond.js";

// forms are the ways a secret could sit in an item: raw, hex (both cases), base64 and base64url at each of
// the three alignments (without the characters that depend on the neighbouring bytes).
function forms(secret: string): string[] {
  const found = [secret, Buffer.from(secret).toString("hex"), Buffer.from(secret).toString("hex").toUpperCase()];
  for (let shift = 0; shift < 3; shift++) {
    const encoded = Buffer.concat([Buffer.alloc(shift), Buffer.from(secret)]).toString("base64");
    const inner = encoded.slice(shift === 0 ? 0 : 4, -4);
    found.push(inner, inner.replaceAll("+", "-").replaceAll("/", "_"));
  }
  return found;
}

/** leaks returns "secret in key" for every secret that some memcached item holds in any of its forms. */
async function leaks(memcached: MemcachedProcess, raw: Store, secrets: string[]): Promise<string[]> {
  const keys = await dumpKeys(memcached.port);
  expect(keys.length).to.be.greaterThan(0);
  const items = await raw.getMany(keys);
  const found: string[] = [];
  for (const [key, { value }] of items) {
    const text = Buffer.from(value).toString("latin1");
    for (const secret of secrets) if (forms(secret).some((form) => text.includes(form))) found.push(`${secret} in ${key}`);
  }
  return found;
}

const hashOf = (sessionId: string) => createHash("sha256").update(sessionId).digest("base64url");

describe("sealed storage, end to end", function () {
  this.timeout(30_000);
  let memcached: MemcachedProcess;
  let raw: Store;
  before(async () => {
    memcached = await startMemcached();
    raw = createMemcachedStore({ servers: [memcached.address] });
  });
  after(async () => {
    await raw?.close();
    await memcached?.stop();
  });

  // scenario creates sessions, writes packages, lists them and commits a transaction; it returns every
  // string that must not be readable in memcached.
  async function scenario(sessiond: RunningSessiond, namespace: string): Promise<string[]> {
    const [cart, sku, prefs, theme, note] = [
      "shopping-cart-pkg",
      "sku-7788123-blue",
      "preferences-pkg",
      "dark-mode-please",
      "tx-written-value",
    ];
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await sessiond.call("createSession", { namespace })).sessionId);
    for (const sessionId of ids) {
      await sessiond.call("set", { namespace, sessionId, package: cart, data: { item: sku } });
      await sessiond.call("set", { namespace, sessionId, package: prefs, data: { theme } });
    }
    const listed = await sessiond.call("listSessions", { namespace, pageSize: 100 });
    expect(listed.sessions.map((s) => s.sessionId).sort()).to.deep.equal([...ids].sort());
    const tx = sessiond.stream();
    expect((await tx.send({ case: "begin", value: { namespace, sessionId: ids[0]! } })).result.case).to.equal("begin");
    await tx.send({ case: "savepoint", value: {} });
    await tx.send({ case: "set", value: { package: cart, data: { note } } });
    expect((await tx.send({ case: "commit", value: {} })).result.case).to.equal("commit");
    expect((await tx.end()).code).to.equal(0);
    const got = await sessiond.call("get", { namespace, sessionId: ids[0]!, package: cart });
    expect(got.data).to.deep.equal({ item: sku, note });
    return [...ids, cart, sku, prefs, theme, note];
  }

  it("leaves no session id, package name or value readable in memcached with keys", async () => {
    const sessiond = await startSessiond({ memcached: [memcached.address], dataKeys: keysOf(keyLine("k1")) });
    try {
      const secrets = await scenario(sessiond, "Sealed.scenario");
      expect(await leaks(memcached, raw, secrets)).to.deep.equal([]);
    } finally {
      await sessiond.stop();
    }
  });

  it("(the control) finds them in clear without keys", async () => {
    const sessiond = await startSessiond({ memcached: [memcached.address] });
    try {
      const secrets = await scenario(sessiond, "Clear.scenario");
      const found = await leaks(memcached, raw, secrets);
      for (const secret of secrets)
        expect(
          found.some((f) => f.startsWith(`${secret} in sd1:Clear.scenario:`)),
          secret,
        ).to.equal(true);
    } finally {
      await sessiond.stop();
    }
  });

  it("leaves nothing readable on a pool of three memcached either, where InvalidateAll still works", async () => {
    const pool = await startMemcachedPool(3);
    const rawPool = pool.map((m) => createMemcachedStore({ servers: [m.address] }));
    const sessiond = await startSessiond({ memcached: pool.map((m) => m.address), dataKeys: keysOf(keyLine("k1")) });
    try {
      const namespace = "Sealed.pool";
      const secrets = await scenario(sessiond, namespace);
      for (let i = 0; i < pool.length; i++)
        expect(await leaks(pool[i]!, rawPool[i]!, secrets), pool[i]!.address).to.deep.equal([]);
      await sessiond.call("invalidateAll", { namespace });
      expect((await sessiond.call("listSessions", { namespace, pageSize: 100 })).sessions).to.deep.equal([]);
      const sessionId = secrets[0]!;
      expect((await sessiond.call("get", { namespace, sessionId, package: "shopping-cart-pkg" })).data).to.deep.equal({});
    } finally {
      await sessiond.stop();
      await Promise.all(rawPool.map((store) => store.close()));
      await Promise.all(pool.map((m) => m.stop()));
    }
  });

  describe("a record that does not open", () => {
    const namespace = "Sealed.tamper";
    const warnings: Array<Record<string, unknown>> = [];
    let sessiond: RunningSessiond;
    let client: SessionClient;
    const logger = pino({ level: "warn" }, { write: (line: string) => warnings.push(JSON.parse(line)) });
    before(async () => {
      sessiond = await startSessiond({
        memcached: [memcached.address],
        dataKeys: keysOf(keyLine("k1")),
        logger,
      });
      client = createSessionClient(sessiond.address);
    });
    after(async () => {
      client?.close();
      await sessiond?.stop();
    });

    // storeKey finds a session's memcached key by the hash of its id.
    async function storeKey(sessionId: string): Promise<string> {
      const key = (await dumpKeys(memcached.port)).find((k) => k.endsWith(`:s:${hashOf(sessionId)}`));
      expect(key, "the session's memcached key").to.be.a("string");
      return key!;
    }

    async function grpcurlGet(sessionId: string): Promise<JsonObject> {
      const reflection = connectReflection(sessiond.address, "v1");
      try {
        const { registry } = await resolveSymbol(reflection, "sessiond.v1.SessionService");
        const method = findMethod(registry, "sessiond.v1.SessionService/Get");
        return (await invoke(sessiond.address, method, [{ namespace, sessionId, package: "profile" }]))[0] as JsonObject;
      } finally {
        reflection.close();
      }
    }

    it("reads as empty when copied from another session's key, and the victim keeps its data", async () => {
      const victim = await client.createSession(namespace);
      const attacker = await client.createSession(namespace);
      await victim.set("profile", { role: "admin" });
      await attacker.set("profile", { role: "guest" });
      const victimKey = await storeKey(victim.id);
      await raw.set(await storeKey(attacker.id), (await raw.get(victimKey))!.value, 3600);
      const before = warnings.length;

      expect(await attacker.get("profile")).to.deep.equal({});
      expect(await grpcurlGet(attacker.id)).to.deep.equal({ data: {} });
      expect(await victim.get("profile")).to.deep.equal({ role: "admin" });
      expect(warnings.length - before).to.equal(1);
      expect(warnings.at(-1)).to.include.keys("keyHash", "reason", "keyId");
      expect(warnings.at(-1)!.msg).to.equal("a stored record does not open: read as absent");
      expect(JSON.stringify(warnings.at(-1))).to.not.include(attacker.id);
    });

    it("reads as empty with a flipped byte, and is written anew by Set and by a transaction", async () => {
      const session = await client.createSession(namespace);
      await session.set("profile", { name: "Ada" });
      const key = await storeKey(session.id);
      const bytes = Buffer.from((await raw.get(key))!.value);
      bytes[bytes.length - 20] = bytes[bytes.length - 20]! ^ 0x80;
      await raw.set(key, bytes, 3600);

      expect(await session.get("profile")).to.deep.equal({});
      expect(await grpcurlGet(session.id)).to.deep.equal({ data: {} });
      await session.set("profile", { name: "Grace" });
      expect(await session.get("profile")).to.deep.equal({ name: "Grace" });

      await raw.set(key, bytes, 3600); // tampered again
      await client.transaction(namespace, session.id, async (tx) => {
        expect(await tx.get("profile")).to.deep.equal({});
        tx.set("profile", { name: "Hopper" });
      });
      expect(await session.get("profile")).to.deep.equal({ name: "Hopper" });
    });

    it("is not listed, and other sessions are served meanwhile", async () => {
      const good = await client.createSession(namespace);
      const bad = await client.createSession(namespace);
      await good.set("profile", { ok: true });
      await bad.set("profile", { ok: true });
      await raw.set(await storeKey(bad.id), Buffer.from("not sealed at all"), 3600);
      const listed = await sessiond.call("listSessions", { namespace, pageSize: 1000 });
      const ids = listed.sessions.map((s) => s.sessionId);
      expect(ids).to.include(good.id);
      expect(ids).to.not.include(bad.id);
      expect(await good.get("profile")).to.deep.equal({ ok: true });
    });
  });
});
