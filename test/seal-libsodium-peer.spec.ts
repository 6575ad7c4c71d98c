// The sealed format checked by another implementation: PyNaCl over Debian's libsodium (python3-nacl, run
// by Debian's /usr/bin/python3), which implements the chunk layout from its description alone
// (test/fixtures/libsodium_peer.py). Every record sessiond writes with keys opens there, given the key,
// with the nonce and associated data where the layout says; and a record sealed there opens in sessiond.

import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { expect } from "chai";
import { createMemcachedStore } from "../server/store/memcached-store.js";
import type { Store } from "../server/store/store.js";
import { keysOf } from "./helpers/data-keys.js";
import { dumpKeys, type MemcachedProcess, startMemcached } from "./helpers/memcached.js";
import { REPO } from "./helpers/ops-process.js";
import { type RunningSessiond, startSessiond } from "./helpers/sessiond.js";

const PYTHON = "/usr/bin/python3"; // Debian's: python3-nacl is installed for it, not for a pyenv python
const PEER = join(REPO, "test", "fixtures", "libsodium_peer.py");

interface PeerOpened {
  chunks: Array<{ keyId: string; expiresAt: number; nonce: string; associatedData: string }>;
  plaintext: string;
}

// Its stderr is kept (in the thrown error) rather than printed: some calls are meant to fail.
const peer = (...args: string[]) => execFileSync(PYTHON, [PEER, ...args], { encoding: "utf8", stdio: "pipe" }).trim();
const peerOpen = (key: Buffer, storeKey: string, value: Uint8Array) =>
  JSON.parse(peer("open", key.toString("base64"), storeKey, Buffer.from(value).toString("hex"))) as PeerOpened;

describe("the sealed format, read and written by another libsodium (PyNaCl)", function () {
  this.timeout(60_000);
  const secret = randomBytes(32);
  let memcached: MemcachedProcess;
  let raw: Store;
  let sessiond: RunningSessiond;

  before(async () => {
    memcached = await startMemcached();
    raw = createMemcachedStore({ servers: [memcached.address] });
    sessiond = await startSessiond({ memcached: [memcached.address], dataKeys: keysOf(`k2026:${secret.toString("base64")}`) });
  });
  after(async () => {
    await sessiond?.stop();
    await raw?.close();
    await memcached?.stop();
  });

  it("opens every record sessiond wrote, with the key alone, the nonce and associated data where the layout says", async () => {
    const { sessionId } = await sessiond.call("createSession", { namespace: "Cart" });
    await sessiond.call("set", { namespace: "Cart", sessionId, package: "p", data: { color: "blue" } });
    const keys = (await dumpKeys(memcached.port)).filter((k) => k.startsWith("sd1:Cart"));
    expect(keys.length, "the session's record and the namespace's own records").to.be.at.least(2);
    const plaintexts: string[] = [];
    for (const [storeKey, { value }] of await raw.getMany(keys)) {
      if (value[0] !== 2) continue; // counters stay plain numbers (they count, never name)
      const opened = peerOpen(secret, storeKey, value);
      const first = opened.chunks[0]!;
      expect(first.keyId).to.equal("k2026");
      expect(first.nonce).to.equal(Buffer.from(value).subarray(16, 40).toString("hex"));
      expect(first.associatedData).to.equal(
        Buffer.concat([Buffer.from(value).subarray(0, 16), Buffer.from(storeKey)]).toString("hex"),
      );
      plaintexts.push(Buffer.from(opened.plaintext, "base64").toString("latin1"));
    }
    expect(plaintexts.length).to.be.at.least(2);
    expect(plaintexts.filter((p) => p.includes(sessionId) || p.includes("blue")).length).to.be.at.least(1);
    // The wrong key, or the record under another memcached key, does not open there either.
    const [storeKey, { value }] = [...(await raw.getMany(keys))].find(([, v]) => v.value[0] === 2)!;
    expect(() => peerOpen(randomBytes(32), storeKey, value)).to.throw();
    expect(() => peerOpen(secret, `${storeKey}x`, value)).to.throw();
  });

  it("serves a record sealed by PyNaCl as sessiond's own", async () => {
    const { sessionId } = await sessiond.call("createSession", { namespace: "Shop" });
    await sessiond.call("set", { namespace: "Shop", sessionId, package: "p", data: { color: "blue" } });
    const records = await raw.getMany((await dumpKeys(memcached.port)).filter((k) => k.startsWith("sd1:Shop")));
    const [storeKey, { value, version }] = [...records].find(
      ([key, { value }]) => value[0] === 2 && Buffer.from(peerOpen(secret, key, value).plaintext, "base64").includes("blue"),
    )!;
    const opened = peerOpen(secret, storeKey, value);
    // Same length, so the record's encoding stays valid: only the value changes, and only PyNaCl sealed it.
    const edited = Buffer.from(Buffer.from(opened.plaintext, "base64").toString("latin1").replace("blue", "gray"), "latin1");
    const sealed = peer(
      "seal",
      secret.toString("base64"),
      "k2026",
      storeKey,
      String(opened.chunks[0]!.expiresAt),
      edited.toString("base64"),
    );
    expect(await raw.cas(storeKey, Buffer.from(sealed, "hex"), version, 3600)).to.equal(true);
    const { data } = await sessiond.call("get", { namespace: "Shop", sessionId, package: "p" });
    expect(data).to.deep.equal({ color: "gray" });
  });
});
