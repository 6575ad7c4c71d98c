// `sessiond serve --data-keys FILE` as a real process: key rotation [A] -> [B, A] -> [B] by SIGHUP on a
// running server, a bad key file on SIGHUP (old keys kept) and at start (exit 2), and the start-up warning
// when memcached records would be stored in clear.

import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { createMemcachedStore } from "../server/store/memcached-store.js";
import type { Store } from "../server/store/store.js";
import { keyLine } from "./helpers/data-keys.js";
import { dumpKeys, type MemcachedProcess, startMemcached } from "./helpers/memcached.js";
import {
  connectSessionClient,
  type LogLine,
  type SessionClient,
  type SessiondProcess,
  spawnProcess,
  startSessiondProcess,
} from "./helpers/ops-process.js";
import { eventually, sleep } from "./helpers/wait.js";

const dir = mkdtempSync(join(tmpdir(), "sessiond-keys-"));
const keyFile = (name: string, ...lines: string[]) => {
  const path = join(dir, name);
  writeFileSync(path, `# data keys: the first seals, all open\n${lines.join("\n")}\n`);
  return path;
};

/** keyIdsInMemcached maps every item of a namespace to the id of the key that sealed it (byte 3 on). */
async function keyIdsInMemcached(memcached: MemcachedProcess, raw: Store, namespace: string): Promise<Map<string, string>> {
  const keys = await dumpKeys(memcached.port);
  const items = await raw.getMany(keys.filter((k) => k.startsWith(`sd1:${namespace}:`)));
  return new Map([...items].map(([key, { value }]) => [key, Buffer.from(value).toString("latin1", 3, 3 + value[2]!)]));
}

describe("sessiond --data-keys, as a process", function () {
  this.timeout(60_000);
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

  describe("rotation by SIGHUP", () => {
    const namespace = "Rotation";
    const [lineA, lineB] = [keyLine("keyA"), keyLine("keyB")];
    const path = keyFile("rotation.keys", lineA);
    let sessiond: SessiondProcess & { address: string };
    let client: SessionClient;
    before(async () => {
      sessiond = await startSessiondProcess(["--memcached", memcached.address, "--data-keys", path]);
      client = connectSessionClient(sessiond.address);
    });
    after(async () => {
      client?.close();
      sessiond?.child.kill("SIGTERM");
      await sessiond?.waitForExit();
    });

    const reloaded = (ids: string[]) => (l: LogLine) =>
      l.msg === "data keys reloaded" && JSON.stringify(l.dataKeys) === JSON.stringify(ids);
    const read = async (sessionId: string) => (await client.call("get", { namespace, sessionId, package: "cart" })).data;

    it("starts with key A, saying so without any secret", async () => {
      const started = await sessiond.waitForLog((l) => l.msg === "sessiond started");
      expect(started.dataKeys).to.deep.equal(["keyA"]);
      expect(started.store).to.deep.include({ sealed: true });
      const output = JSON.stringify(sessiond.lines) + sessiond.stderr();
      expect(output).to.not.include(lineA.split(":")[1]!);
      expect(sessiond.lines.some((l) => /stored in clear/.test(String(l.msg)))).to.equal(false);
    });

    it("[A] -> [B, A] -> [B]: S1 written with A, S2 with B; after [B] only S2 reads", async () => {
      await client.call("set", { namespace, sessionId: "S1", package: "cart", data: { items: 1 } });
      expect([...(await keyIdsInMemcached(memcached, raw, namespace)).values()]).to.satisfy((ids: string[]) =>
        ids.every((id) => id === "keyA"),
      );

      keyFile("rotation.keys", lineB, lineA);
      sessiond.child.kill("SIGHUP");
      await sessiond.waitForLog(reloaded(["keyB", "keyA"]));
      expect(await read("S1")).to.deep.equal({ items: 1 });
      await client.call("set", { namespace, sessionId: "S2", package: "cart", data: { items: 2 } });
      // The runbook's wait: the namespace's generation is read again (a real timer in another process: its
      // cache lasts 1 s) and a listing reads the index, which re-seals the records nobody rewrites whole.
      await sleep(1200);
      expect(await read("S2")).to.deep.equal({ items: 2 });
      const listed = await client.call("listSessions", { namespace, pageSize: 100 });
      expect(listed.sessions.map((s) => s.sessionId).sort()).to.deep.equal(["S1", "S2"]);
      const s1Record = `:s:${createHash("sha256").update("S1").digest("base64url")}`;
      let stillA: string[] = [];
      await eventually("only what names S1 alone, untouched since [A], to be sealed with A", async () => {
        const sealedWith = await keyIdsInMemcached(memcached, raw, namespace);
        stillA = [...sealedWith].filter(([, id]) => id === "keyA").map(([key]) => key);
        // S1's record, and the index item that holds S1's id alone if S2's went to another shard.
        expect(
          stillA.filter((k) => k.endsWith(s1Record)),
          stillA.join(", "),
        ).to.have.length(1);
        expect(
          stillA.filter((k) => !k.endsWith(s1Record) && !/:i:/.test(k)),
          stillA.join(", "),
        ).to.deep.equal([]);
        expect(stillA.length).to.be.at.most(2);
      });

      keyFile("rotation.keys", lineB);
      sessiond.child.kill("SIGHUP");
      await sessiond.waitForLog(reloaded(["keyB"]));
      await sleep(1200); // the generation's cache (1 s, another process's real timer) ends: read again with B only
      expect(await read("S1")).to.deep.equal({});
      expect(await read("S2")).to.deep.equal({ items: 2 });
      const after = await client.call("listSessions", { namespace, pageSize: 100 });
      expect(after.sessions.map((s) => s.sessionId)).to.deep.equal(["S2"]);
      // One warn line per record still sealed with A, each read at least once.
      const warned = sessiond.lines.filter((l) => l.msg === "a stored record does not open: read as absent");
      expect(warned).to.have.length.within(1, stillA.length);
      expect(new Set(warned.map((l) => l.keyHash)).size).to.equal(warned.length);
      for (const line of warned) expect(line).to.deep.include({ level: "warn", reason: "unknown key", keyId: "keyA" });
    });

    it("keeps the keys in use when the file is bad on SIGHUP, and logs an error", async () => {
      writeFileSync(path, "keyC:too-short\n");
      sessiond.child.kill("SIGHUP");
      const line = await sessiond.waitForLog((l) => l.msg === "data keys not reloaded: keeping the keys in use");
      expect(line).to.deep.include({ level: "error", dataKeys: ["keyB"] });
      expect(await read("S2")).to.deep.equal({ items: 2 });
      await client.call("set", { namespace, sessionId: "S3", package: "cart", data: { items: 3 } });
      expect(await read("S3")).to.deep.equal({ items: 3 });
    });
  });

  it("with --workers 2, hands SIGHUP to every worker", async () => {
    const path = keyFile("cluster.keys", keyLine("one"));
    const sessiond = await startSessiondProcess(["--workers", "2", "--memcached", memcached.address, "--data-keys", path], {
      startedMessage: "sessiond cluster started",
      startTimeoutMs: 45_000, // three processes compiling TypeScript on a busy machine
    });
    try {
      const workers = (sessiond.lines.find((l) => l.msg === "sessiond cluster started")!.workers as number[]).sort();
      keyFile("cluster.keys", keyLine("two"), keyLine("one"));
      sessiond.child.kill("SIGHUP");
      const reloadedBy = new Set<number>();
      for (const pid of workers) {
        const line = await sessiond.waitForLog((l) => l.msg === "data keys reloaded" && l.pid === pid);
        expect(line.dataKeys).to.deep.equal(["two", "one"]);
        reloadedBy.add(line.pid!);
      }
      expect([...reloadedBy].sort()).to.deep.equal(workers);
    } finally {
      sessiond.child.kill("SIGTERM");
      await sessiond.waitForExit();
    }
  });

  it("exits 2 at start on a bad key file, naming the line but never the key", async () => {
    const secret = Buffer.alloc(31, 7).toString("base64");
    const path = keyFile("short.keys", `k1:${secret}`);
    const proc = spawnProcess(process.execPath, [
      "--import",
      "tsx",
      "server/main.ts",
      "serve",
      "--memcached",
      memcached.address,
      "--data-keys",
      path,
    ]);
    expect((await proc.waitForExit(30_000)).code).to.equal(2);
    expect(proc.stderr()).to.include(`--data-keys: data key file ${path} line 2: key k1 is not 32 bytes`);
    expect(proc.stderr()).to.not.include(secret);
  });

  it("refuses to start with --data-keys where libsodium cannot load, naming the platform (never a silent downgrade)", async () => {
    const path = keyFile("platform.keys", keyLine("k1"));
    const serve = ["server/main.ts", "serve", "--listen", "127.0.0.1:0", "--memcached", memcached.address];
    const preload = ["--require", "./test/fixtures/no-sodium.cjs", "--import", "tsx"];
    const proc = spawnProcess(process.execPath, [...preload, ...serve, "--data-keys", path]);
    expect((await proc.waitForExit(30_000)).code).to.equal(2);
    expect(proc.stderr()).to.match(
      /--data-keys: libsodium \(the sodium-native package\) cannot load on linux-\w+ \(glibc [\d.]+\)/,
    );
    expect(proc.stderr()).to.include("No native build was found").and.include("or without --data-keys");
    // The same platform still serves without keys: libsodium is loaded only for them.
    const clear = spawnProcess(process.execPath, [...preload, ...serve]);
    try {
      await clear.waitForLog((l) => l.msg === "sessiond started");
    } finally {
      clear.child.kill("SIGTERM");
    }
    expect((await clear.waitForExit()).code).to.equal(0);
  });

  it("warns once at start that records are stored in clear when memcached is used without keys", async () => {
    const sessiond = await startSessiondProcess(["--memcached", memcached.address]);
    try {
      const warnings = sessiond.lines.filter((l) => /stored in clear/.test(String(l.msg)));
      expect(warnings).to.have.length(1);
      expect(warnings[0]).to.deep.include({ level: "warn" });
      expect(String(warnings[0]!.msg)).to.include("--data-keys");
    } finally {
      sessiond.child.kill("SIGTERM");
      await sessiond.waitForExit();
    }
  });
});
