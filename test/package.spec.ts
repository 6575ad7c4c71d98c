// The published package as a user gets it: `sessiond/client` stands alone (no server code loads with it),
// the tarball holds only what a user needs, and a fresh project that installs the tarball talks to a live
// sessiond. Process level: it builds dist/ (`npm run prepack`), packs and installs; about 30 s in all.

import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { expect } from "chai";
import { REPO } from "./helpers/ops-process.js";
import { type RunningSessiond, startSessiond } from "./helpers/sessiond.js";

const run = promisify(execFile);
const npm = (args: string[], cwd: string) => run("npm", args, { cwd, maxBuffer: 16 * 1024 * 1024 });
const HOOKS = pathToFileURL(join(REPO, "test/helpers/record-modules-hooks.mjs")).href;
// The web frameworks sessiond/express serves: optional peer dependencies, never loaded by sessiond/client.
const FRAMEWORK = /\/node_modules\/(express|express-session|fastify|@fastify\/[^/]+)\//;

describe("the published package", function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), "sessiond-package-"));
  const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as {
    version: string;
    dependencies: Record<string, string>;
  };

  before(async () => {
    await npm(["run", "prepack", "--silent"], REPO); // a clean dist/, as `npm pack` makes it
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("loads sessiond/client without loading any file under server/", async () => {
    const log = join(dir, "resolved.txt");
    writeFileSync(log, "");
    // A child process, so that nothing this test run loaded counts; it records every module it resolves.
    const script = [
      'import { register } from "node:module";',
      `register(${JSON.stringify(HOOKS)}, { data: { log: ${JSON.stringify(log)} } });`,
      'const sdk = await import("sessiond/client");',
      'if (typeof sdk.createSessionClient !== "function") throw new Error("no createSessionClient");',
    ].join("\n");
    await run(process.execPath, ["--input-type=module", "-e", script], { cwd: REPO });
    const resolved = readFileSync(log, "utf8").trim().split("\n");
    const dist = pathToFileURL(join(REPO, "dist")).href;
    // The record works: the SDK, the shared adapter and the generated code were resolved through it.
    expect(resolved).to.include.members([
      `${dist}/client/index.js`,
      `${dist}/rpc/service-definition.js`,
      `${dist}/gen/sessiond/v1/session_service_pb.js`,
    ]);
    expect(resolved.filter((url) => url.startsWith(`${dist}/server/`))).to.deep.equal([]);
    expect(resolved.filter((url) => FRAMEWORK.test(url))).to.deep.equal([]);
  });

  it("exports sessiond/express, whose SessiondStore loads express-session's Store but nothing of the server", async () => {
    const log = join(dir, "resolved-express.txt");
    writeFileSync(log, "");
    const script = [
      'import { register } from "node:module";',
      `register(${JSON.stringify(HOOKS)}, { data: { log: ${JSON.stringify(log)} } });`,
      'const { SessiondStore } = await import("sessiond/express");',
      'const { Store } = await import("express-session");',
      'if (!(new SessiondStore({ address: "127.0.0.1:1" }) instanceof Store)) throw new Error("not an express-session Store");',
    ].join("\n");
    await run(process.execPath, ["--input-type=module", "-e", script], { cwd: REPO });
    const resolved = readFileSync(log, "utf8").trim().split("\n");
    const dist = pathToFileURL(join(REPO, "dist")).href;
    expect(resolved).to.include.members([`${dist}/client/express/index.js`, `${dist}/client/session-client.js`]);
    expect(resolved.filter((url) => url.startsWith(`${dist}/server/`))).to.deep.equal([]);
  });

  it("packs only what a user needs: the built JavaScript, the SDK's types, the protos and the README", async () => {
    const { stdout } = await npm(["pack", "--dry-run", "--json", "--ignore-scripts"], REPO);
    const files = (JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
    expect(files).to.include.members([
      "package.json",
      "README.md",
      "dist/client/index.js",
      "dist/client/index.d.ts",
      "dist/client/express/index.js",
      "dist/client/express/index.d.ts",
      "dist/server/main.js",
      "dist/server/health-probe.js",
      "proto/sessiond/v1/session_service.proto",
    ]);
    const needed = (path: string) =>
      path === "package.json" ||
      path === "README.md" ||
      /^proto\/.+\.proto$/.test(path) ||
      /^dist\/(client|rpc|gen)\/.+\.(js|d\.ts)$/.test(path) ||
      /^dist\/server\/.+\.js$/.test(path); // the server runs (`npx sessiond serve`); its types are nobody's API
    expect(files.filter((path) => !needed(path))).to.deep.equal([]);
  });

  describe("installed from its tarball into a fresh project", () => {
    let sessiond: RunningSessiond;
    before(async () => {
      sessiond = await startSessiond();
    });
    after(async () => {
      await sessiond?.stop();
    });

    it("imports createSessionClient from sessiond/client and runs a Get against a live sessiond", async () => {
      const { stdout } = await npm(["pack", "--json", "--ignore-scripts", "--pack-destination", dir], REPO);
      const tarball = join(dir, (JSON.parse(stdout) as Array<{ filename: string }>)[0]!.filename);
      const app = join(dir, "app");
      writeAppProject(app, tarball, pkg);
      // Offline: every dependency comes from the npm cache that `npm ci` filled for this repository.
      await npm(["ci", "--offline", "--no-audit", "--no-fund", "--ignore-scripts"], app);
      writeFileSync(
        join(app, "get.mjs"),
        [
          'import { createSessionClient } from "sessiond/client";',
          "const client = createSessionClient(process.argv[2]);",
          'const data = await client.session("Packed", "s1").get("cart");',
          "process.stdout.write(JSON.stringify(data));",
          "client.close();",
        ].join("\n"),
      );

      await sessiond.call("set", { namespace: "Packed", sessionId: "s1", package: "cart", data: { apples: 3 } });
      const got = await run(process.execPath, ["get.mjs", sessiond.address], { cwd: app });
      expect(JSON.parse(got.stdout)).to.deep.equal({ apples: 3 });

      // No framework was installed with it (optional peers), and SessiondStore works without any, as a
      // @fastify/session app uses it: set and get through its callbacks.
      expect(existsSync(join(app, "node_modules/express-session"))).to.equal(false);
      writeFileSync(
        join(app, "store.mjs"),
        [
          'import { SessiondStore } from "sessiond/express";',
          "const store = new SessiondStore({ address: process.argv[2] });",
          'await new Promise((ok, fail) => store.set("sid-1", { user: "alice" }, (e) => (e ? fail(e) : ok())));',
          'const data = await new Promise((ok, fail) => store.get("sid-1", (e, s) => (e ? fail(e) : ok(s))));',
          "process.stdout.write(JSON.stringify(data));",
          "store.close();",
        ].join("\n"),
      );
      const stored = await run(process.execPath, ["store.mjs", sessiond.address], { cwd: app });
      expect(JSON.parse(stored.stdout)).to.deep.equal({ user: "alice" });
    });
  });
});

// writeAppProject writes a project that depends on the tarball only. npm's cache holds the dependency
// tarballs `npm ci` fetched here, not the registry metadata a version range needs, so the project's lockfile
// pins the same versions as this repository's (its production entries) and `npm ci --offline` installs them.
function writeAppProject(app: string, tarball: string, pkg: { version: string; dependencies: Record<string, string> }) {
  const lock = JSON.parse(readFileSync(join(REPO, "package-lock.json"), "utf8")) as {
    packages: Record<string, { dev?: boolean; link?: boolean }>;
  };
  const dependencies = { sessiond: `file:${tarball}` };
  const packages: Record<string, unknown> = {
    "": { name: "app", dependencies },
    "node_modules/sessiond": { version: pkg.version, resolved: `file:${tarball}`, dependencies: pkg.dependencies },
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path !== "" && !entry.dev && !entry.link) packages[path] = entry;
  }
  rmSync(app, { recursive: true, force: true });
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module", dependencies }));
  writeFileSync(join(app, "package-lock.json"), JSON.stringify({ name: "app", lockfileVersion: 3, requires: true, packages }));
}
