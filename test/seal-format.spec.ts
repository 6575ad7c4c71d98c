// The sealed format, chunk by chunk: XChaCha20-Poly1305 with a fresh 192-bit nonce per seal; chunks that
// an older sessiond sealed with AES-256-GCM still open (and are due for re-sealing); keys live in libsodium's
// guarded memory and, once wiped, neither seal nor open; where libsodium cannot load, keys are refused
// with the platform named.

import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { DataKeyError, openDataKeyFile } from "../server/store/data-keys.js";
import { openValue, SEAL_OVERHEAD_BYTES, sealChunk } from "../server/store/seal.js";
import { sealGcmChunk } from "../server/store/seal-gcm.js";
import { loadSodium, platformName } from "../server/store/sodium.js";
import { keyLine, keysOf } from "./helpers/data-keys.js";
import { bytes } from "./helpers/store-conformance.js";

const text = (result: ReturnType<typeof openValue>) => (result.ok ? result.plaintext.toString() : `unopened: ${result.reason}`);

describe("the sealed format", () => {
  const keys = keysOf(keyLine("new"), keyLine("old"));

  it("writes format 2 (XChaCha20-Poly1305) with a 24-byte nonce that differs on every seal", () => {
    const nonces = new Set<string>();
    const ciphertexts = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const chunk = sealChunk(keys.current.sealing, "sd1:Cart:s1", bytes("the same plaintext"), 0);
      expect(chunk[0]).to.equal(2);
      expect(chunk.length).to.equal(3 + 3 + 8 + 24 + "the same plaintext".length + 16);
      nonces.add(chunk.subarray(14, 38).toString("hex"));
      ciphertexts.add(chunk.subarray(38).toString("hex"));
    }
    expect(nonces.size).to.equal(2000);
    expect(ciphertexts.size).to.equal(2000);
    expect(SEAL_OVERHEAD_BYTES).to.equal(3 + 16 + 8 + 24 + 16);
  });

  it("opens only under the memcached key it was sealed for", () => {
    const chunk = sealChunk(keys.current.sealing, "sd1:Cart:victim", bytes("admin=true"), 0);
    expect(text(openValue(keys.current, "sd1:Cart:victim", chunk))).to.equal("admin=true");
    expect(text(openValue(keys.current, "sd1:Cart:attacker", chunk))).to.equal("unopened: does not authenticate");
  });

  it("opens a chunk an older version sealed with AES-256-GCM, and marks the value stale", () => {
    const old = sealGcmChunk(keys.current.sealing, "sd1:Cart:s1", bytes("written by 0.1"), 1_900_000_000);
    expect(old[0]).to.equal(1);
    const opened = openValue(keys.current, "sd1:Cart:s1", old);
    expect(opened).to.deep.include({ ok: true, expiresAt: 1_900_000_000, chunks: 1, stale: true });
    expect(text(opened)).to.equal("written by 0.1");
    const fresh = openValue(keys.current, "sd1:Cart:s1", sealChunk(keys.current.sealing, "sd1:Cart:s1", bytes("x"), 0));
    expect(fresh).to.deep.include({ ok: true, stale: false });
  });

  it("opens a value appended to across the upgrade (a GCM chunk then an XChaCha one), and no tampered GCM chunk", () => {
    const gcm = sealGcmChunk(keys.current.sealing, "sd1:idx:0", bytes("entry-1\n"), 0);
    const xchacha = sealChunk(keys.current.sealing, "sd1:idx:0", bytes("entry-2\n"), 0);
    const opened = openValue(keys.current, "sd1:idx:0", Buffer.concat([gcm, xchacha]));
    expect(text(opened)).to.equal("entry-1\nentry-2\n");
    expect(opened).to.deep.include({ chunks: 2, stale: true });
    for (let i = 0; i < gcm.length; i++) {
      const bad = Buffer.from(gcm);
      bad[i] = bad[i]! ^ 0x01;
      expect(openValue(keys.current, "sd1:idx:0", bad).ok, `byte ${i}`).to.equal(false);
    }
    expect(text(openValue(keys.current, "sd1:idx:1", gcm))).to.equal("unopened: does not authenticate");
  });

  it("keeps each secret in libsodium's guarded memory, decoded exactly as base64", () => {
    const material = randomBytes(32);
    const parsed = keysOf(`k:${material.toString("base64")}`).current;
    expect(Buffer.compare(parsed.sealing.secret, material)).to.equal(0);
    expect((parsed.sealing.secret as Buffer & { secure?: boolean }).secure).to.equal(true);
  });

  it("wipes the keys a reload replaces and the keys in use on close; a wiped key neither seals nor opens", () => {
    const path = join(mkdtempSync(join(tmpdir(), "sessiond-keys-")), "keys");
    writeFileSync(path, `${keyLine("a")}\n`);
    const file = openDataKeyFile(path);
    const first = file.current;
    const sealed = sealChunk(first.sealing, "k", bytes("x"), 0);
    writeFileSync(path, `${keyLine("b")}\n${keyLine("a")}\n`);
    file.reload();
    expect(first.sealing.wiped).to.equal(true);
    expect([...first.sealing.secret]).to.deep.equal(new Array(32).fill(0));
    expect(() => sealChunk(first.sealing, "k", bytes("x"), 0)).to.throw("data key a was wiped");
    expect(() => openValue(first, "k", sealed)).to.throw("data key a was wiped");
    const second = file.current;
    expect(second.byId("b")!.secret.some((b) => b !== 0)).to.equal(true);
    file.close();
    expect(second.byId("b")!.wiped && second.byId("a")!.wiped).to.equal(true);
    expect(second.byId("b")!.secret.every((b) => b === 0)).to.equal(true);
  });

  it("refuses data keys, naming the platform, where libsodium cannot load", () => {
    const noBinary = () => {
      throw new Error("No native build was found for platform=linux arch=x64 runtime=node libc=musl\n    at load");
    };
    expect(() => loadSodium(noBinary)).to.throw(DataKeyError, `cannot load on ${platformName()} (No native build was found`);
    expect(() => loadSodium(() => ({}))).to.throw(DataKeyError, `sodium-native on ${platformName()} lacks XChaCha20-Poly1305`);
    expect(platformName()).to.match(/^linux-(x64|arm64) \(glibc \d+\.\d+\)$/);
  });
});
