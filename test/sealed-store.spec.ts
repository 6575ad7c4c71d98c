// The sealed store over a real memcached: memcached holds only ciphertext; a record that was tampered
// with, moved, truncated or sealed with a key that is not listed reads as absent with one warn line; writes
// over such a record work as over an absent one; rotation re-seals records with no expiry.

import { expect } from "chai";
import { createMemcachedStore } from "../server/store/memcached-store.js";
import { SEAL_OVERHEAD_BYTES } from "../server/store/seal.js";
import { sealGcmChunk } from "../server/store/seal-gcm.js";
import { createSealedStore, keyHash } from "../server/store/sealed-store.js";
import type { Store } from "../server/store/store.js";
import { keyLine, keysOf, type MutableKeys, type RecordingLogger, recordingLogger } from "./helpers/data-keys.js";
import { type MemcachedProcess, startMemcached } from "./helpers/memcached.js";
import { bytes, uniqueKeys } from "./helpers/store-conformance.js";
import { eventually } from "./helpers/wait.js";

const text = (value: Uint8Array | undefined) => (value === undefined ? undefined : Buffer.from(value).toString());
const expiresIn = (seconds: number) => Math.floor(Date.now() / 1000) + seconds;

describe("the sealed store", () => {
  let memcached: MemcachedProcess;
  let raw: Store;
  let keys: MutableKeys;
  let log: RecordingLogger;
  let sealed: Store;
  let key: (name: string) => string;
  const [lineA, lineB] = [keyLine("A"), keyLine("B")];

  before(async () => {
    memcached = await startMemcached();
  });
  after(async () => {
    await memcached?.stop();
  });
  beforeEach(function () {
    raw = createMemcachedStore({ servers: [memcached.address] });
    keys = keysOf(lineA);
    log = recordingLogger();
    sealed = createSealedStore(createMemcachedStore({ servers: [memcached.address] }), keys, log);
    key = uniqueKeys(this.currentTest?.title.replace(/\W+/g, "-").slice(0, 40) ?? "sealed");
  });
  afterEach(async () => {
    await Promise.all([raw.close(), sealed.close()]);
  });

  it("stores only ciphertext, with the key id in clear, and reads the plaintext back", async () => {
    const secret = "cart=7f3a9c-very-secret";
    await sealed.set(key("a"), bytes(secret), 0);
    const stored = (await raw.get(key("a")))!.value;
    const hay = Buffer.from(stored);
    for (const form of [secret, bytes(secret).toString("hex"), bytes(secret).toString("base64")]) {
      expect(hay.includes(form), form).to.equal(false);
      expect(hay.toString("latin1").includes(form), form).to.equal(false);
    }
    expect(hay[0], "format 2: XChaCha20-Poly1305").to.equal(2);
    expect(hay.subarray(3, 4).toString()).to.equal("A");
    expect(hay.length - secret.length)
      .to.equal(3 + 1 + 4 + 4 + 24 + 16)
      .and.be.at.most(SEAL_OVERHEAD_BYTES);
    expect(text((await sealed.get(key("a")))!.value)).to.equal(secret);
    expect(text((await sealed.getMany([key("a")])).get(key("a"))!.value)).to.equal(secret);
    expect(log.warnings).to.have.length(0);
  });

  it("reads a record copied to another key as absent, with one warn line naming the key's hash only", async () => {
    await sealed.set(key("victim"), bytes("admin=true"), 0);
    await raw.set(key("attacker"), (await raw.get(key("victim")))!.value, 0);
    expect(await sealed.get(key("attacker"))).to.equal(undefined);
    expect(await sealed.get(key("attacker"))).to.equal(undefined); // read again: no second line
    expect((await sealed.getMany([key("attacker"), key("victim")])).size).to.equal(1);
    expect(log.warnings).to.have.length(1);
    const [line] = log.warnings;
    expect(line!.obj).to.deep.equal({ keyHash: keyHash(key("attacker")), reason: "does not authenticate", keyId: "A" });
    expect(JSON.stringify(line)).to.not.include("admin");
    expect(JSON.stringify(line)).to.not.include(key("attacker"));
  });

  it("reads a value with any flipped byte, or cut short, as absent", async () => {
    await sealed.set(key("a"), bytes("some session data"), 0);
    const good = Buffer.from((await raw.get(key("a")))!.value);
    for (let i = 0; i < good.length; i++) {
      const bad = Buffer.from(good);
      bad[i] = bad[i]! ^ 0x01;
      await raw.set(key(`flip-${i}`), bad, 0);
      expect(await sealed.get(key(`flip-${i}`)), `byte ${i}`).to.equal(undefined);
    }
    for (const cut of [1, 16, good.length - 3, good.length]) {
      await raw.set(key(`cut-${cut}`), good.subarray(0, good.length - cut), 0);
      expect(await sealed.get(key(`cut-${cut}`)), `cut ${cut}`).to.equal(undefined);
    }
    await raw.set(key("clear"), bytes("written by someone with network access"), 0);
    expect(await sealed.get(key("clear"))).to.equal(undefined);
    expect(log.warnings.map((l) => l.obj.reason)).to.include.members(["not sealed", "truncated", "does not authenticate"]);
  });

  it("reads a record sealed with an unlisted key, or a same-named wrong key, as absent", async () => {
    const other = createSealedStore(raw, keysOf(keyLine("C")), recordingLogger());
    const impostor = createSealedStore(raw, keysOf(keyLine("A")), recordingLogger());
    await other.set(key("c"), bytes("x"), 0);
    await impostor.set(key("a"), bytes("x"), 0);
    expect(await sealed.get(key("c"))).to.equal(undefined);
    expect(await sealed.get(key("a"))).to.equal(undefined);
    expect(log.warnings.map((l) => [l.obj.reason, l.obj.keyId])).to.deep.equal([
      ["unknown key", "C"],
      ["does not authenticate", "A"],
    ]);
  });

  it("writes over a record that does not open as over an absent one, never over a genuine one", async () => {
    await raw.set(key("a"), bytes("garbage"), 0);
    expect(await sealed.get(key("a"))).to.equal(undefined);
    expect(await sealed.add(key("a"), bytes("fresh"), 0)).to.equal(true);
    expect(text((await sealed.get(key("a")))!.value)).to.equal("fresh");
    expect(await sealed.add(key("a"), bytes("second"), 0)).to.equal(false);
    expect(text((await sealed.get(key("a")))!.value)).to.equal("fresh");
    // Two writers race to replace the same unreadable record: exactly one wins.
    await raw.set(key("b"), bytes("garbage"), 0);
    const wins = await Promise.all([1, 2, 3].map((n) => sealed.add(key("b"), bytes(`writer ${n}`), 0)));
    expect(wins.filter(Boolean)).to.have.length(1);
  });

  it("seals each appended chunk on its own and opens them into one value", async () => {
    await sealed.set(key("a"), bytes("one"), 0);
    expect(await sealed.append(key("a"), bytes("\ntwo"))).to.equal(true);
    expect(await sealed.append(key("a"), bytes("\nthree"))).to.equal(true);
    expect(text((await sealed.get(key("a")))!.value)).to.equal("one\ntwo\nthree");
    expect(Buffer.from((await raw.get(key("a")))!.value).includes("two")).to.equal(false);
    expect(await sealed.append(key("absent"), bytes("x"))).to.equal(false);
  });

  it("reads a value as absent when one appended chunk does not open, with one warn line", async () => {
    await sealed.set(key("a"), bytes("one"), 0);
    await sealed.append(key("a"), bytes("two"));
    await raw.append(key("a"), bytes("junk appended by someone else"));
    expect(await sealed.get(key("a"))).to.equal(undefined);
    const moved = createSealedStore(raw, keys, recordingLogger());
    await moved.set(key("b"), bytes("one"), 0);
    await raw.append(key("b"), Buffer.from((await raw.get(key("a")))!.value).subarray(0, 40)); // the start of a record: cut short
    expect(await sealed.get(key("b"))).to.equal(undefined);
    expect(log.warnings).to.have.length(2);
  });

  it("answers false to an append on a value it read as not opening, so the caller adds it anew", async () => {
    await raw.set(key("shard"), bytes("garbage"), 0);
    expect(await sealed.get(key("shard"))).to.equal(undefined);
    expect(await sealed.append(key("shard"), bytes("entry-1\n"))).to.equal(false);
    expect(await sealed.add(key("shard"), bytes("entry-1\n"), 0)).to.equal(true);
    expect(await sealed.append(key("shard"), bytes("entry-2\n"))).to.equal(true);
    expect(text((await sealed.get(key("shard")))!.value)).to.equal("entry-1\nentry-2\n");
    // Another writer repaired the value meanwhile: the add finds it opening, and appends work again.
    await raw.set(key("other"), bytes("garbage"), 0);
    expect(await sealed.get(key("other"))).to.equal(undefined);
    const repairer = createSealedStore(raw, keys, recordingLogger());
    await repairer.set(key("other"), bytes("entry-0\n"), 0);
    expect(await sealed.append(key("other"), bytes("entry-1\n"))).to.equal(false);
    expect(await sealed.add(key("other"), bytes("entry-1\n"), 0)).to.equal(false);
    expect(await sealed.append(key("other"), bytes("entry-1\n"))).to.equal(true);
    expect(text((await sealed.get(key("other")))!.value)).to.equal("entry-0\nentry-1\n");
  });

  it("reads records an older version sealed with AES-256-GCM, and re-seals them with XChaCha20-Poly1305", async () => {
    // As 0.1 left them: a record that never expires, one with a lifetime, and an appended log.
    await raw.set(key("gen"), sealGcmChunk(keys.current.sealing, key("gen"), bytes("generation 7"), 0), 0);
    await raw.set(key("s1"), sealGcmChunk(keys.current.sealing, key("s1"), bytes("cart=3"), expiresIn(3600)), 3600);
    await raw.set(key("log"), sealGcmChunk(keys.current.sealing, key("log"), bytes("a\n"), 0), 0);
    expect(await sealed.append(key("log"), bytes("b\n"))).to.equal(true);
    expect(text((await sealed.get(key("gen")))!.value)).to.equal("generation 7");
    expect(text((await sealed.get(key("s1")))!.value)).to.equal("cart=3");
    expect(text((await sealed.get(key("log")))!.value)).to.equal("a\nb\n");
    // What nobody rewrites whole is re-sealed on read; a record with a lifetime is on its next write.
    await eventually("the record with no expiry and the appended one to be re-sealed as format 2", async () => {
      for (const name of ["gen", "log"]) expect((await raw.get(key(name)))!.value[0], name).to.equal(2);
    });
    expect((await raw.get(key("s1")))!.value[0]).to.equal(1);
    await sealed.set(key("s1"), bytes("cart=4"), 3600);
    expect((await raw.get(key("s1")))!.value[0]).to.equal(2);
    expect(text((await sealed.get(key("log")))!.value)).to.equal("a\nb\n");
    expect(log.warnings).to.have.length(0);
  });

  it("rotates: [A] writes, [B, A] reads both and writes with B, [B] reads only B's records", async () => {
    await sealed.set(key("s1"), bytes("sealed with A"), 3600);
    await sealed.set(key("gen"), bytes("never expires"), 0);
    await sealed.set(key("log"), bytes("a\n"), 3600);
    await sealed.append(key("log"), bytes("b\n"));
    keys.current = keysOf(lineB, lineA).current;
    expect(text((await sealed.get(key("s1")))!.value)).to.equal("sealed with A");
    await sealed.set(key("s2"), bytes("sealed with B"), 3600);
    expect(text((await sealed.get(key("gen")))!.value)).to.equal("never expires");
    await sealed.append(key("log"), bytes("c\n")); // sealed with B, after a chunk sealed with A
    expect(text((await sealed.get(key("log")))!.value)).to.equal("a\nb\nc\n");
    // The records nobody rewrites whole (no expiry; appended to) are re-sealed with B in the background,
    // the appended one as one chunk with its lifetime; a plain record with a lifetime is not.
    await eventually("the record with no expiry and the appended one to be re-sealed with B", async () => {
      for (const name of ["gen", "log"]) expect((await raw.get(key(name)))!.value[3], name).to.equal(0x42);
    });
    expect(
      Buffer.from((await raw.get(key("gen")))!.value)
        .subarray(3, 4)
        .toString(),
    ).to.equal("B");
    expect(
      Buffer.from((await raw.get(key("s1")))!.value)
        .subarray(3, 4)
        .toString(),
    ).to.equal("A");
    keys.current = keysOf(lineB).current;
    expect(await sealed.get(key("s1"))).to.equal(undefined);
    expect(text((await sealed.get(key("s2")))!.value)).to.equal("sealed with B");
    expect(text((await sealed.get(key("gen")))!.value)).to.equal("never expires");
    expect(text((await sealed.get(key("log")))!.value)).to.equal("a\nb\nc\n");
    expect(log.warnings.map((l) => [l.obj.reason, l.obj.keyId])).to.deep.equal([["unknown key", "A"]]);
  });
});
