// Settings: flags over environment variables over the config file over defaults; per-namespace expiry in
// the file; `sessiond serve --help` and the README document every setting.

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { pino } from "pino";
import { ConfigError, loadConfig } from "../server/config/config.js";
import { FLAG_SETTINGS } from "../server/config/settings.js";
import { OptionsError } from "../server/core/errors.js";
import { createSessiond } from "../server/sessiond.js";
import { connectSessionClient, REPO, spawnProcess } from "./helpers/ops-process.js";
import { fakeClock } from "./helpers/wait.js";

const dir = mkdtempSync(join(tmpdir(), "sessiond-config-"));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe("sessiond settings", function () {
  this.timeout(20_000);

  it("uses the documented defaults when nothing is set", () => {
    const config = loadConfig([], {});
    expect(config).to.deep.include({
      listen: "0.0.0.0:50051",
      memcached: [],
      timeoutSeconds: 3600,
      resolutionSeconds: undefined,
      logLevel: "info",
      maxMessageBytes: 4 * 1024 * 1024,
      maxTransactions: 10_000,
      idleTimeoutSeconds: 60,
      keepaliveSeconds: 30,
      graceSeconds: 10,
      maxItemBytes: 1024 * 1024,
      keyPrefix: "sd1",
      memcachedTimeoutMs: 1000,
      workers: 1,
    });
  });

  it("takes a flag over its environment variable, that over the config file, that over the default", () => {
    const path = file(
      "precedence.yaml",
      ["listen: 127.0.0.1:7000", "timeout: 100", "max-transactions: 5", "keepalive: 7", "memcached: [a:1, b:2]"].join("\n"),
    );
    const config = loadConfig(["--max-transactions", "3"], {
      SESSIOND_CONFIG: path,
      SESSIOND_TIMEOUT: "200",
      SESSIOND_MAX_TRANSACTIONS: "4",
      SESSIOND_LOG_LEVEL: "",
    });
    expect(config.maxTransactions, "flag").to.equal(3);
    expect(config.timeoutSeconds, "environment").to.equal(200);
    expect(config.keepaliveSeconds, "file").to.equal(7);
    expect(config.listen, "file").to.equal("127.0.0.1:7000");
    expect(config.memcached, "file, as a list").to.deep.equal(["a:1", "b:2"]);
    expect(config.logLevel, "default (an empty variable counts as unset)").to.equal("info");
    expect(config.configFile).to.equal(path);
  });

  it("reads per-namespace timeout and resolution from a JSON or a YAML file", () => {
    const json = file(
      "ns.json",
      JSON.stringify({ namespaces: { MemCacheSession: { timeout: 600, resolution: 60 }, Short: { timeout: 5 } } }),
    );
    const yaml = file(
      "ns.yaml",
      "namespaces:\n  MemCacheSession:\n    timeout: 600\n    resolution: 60\n  Short:\n    timeout: 5\n",
    );
    for (const path of [json, yaml]) {
      expect(loadConfig(["--config", path], {}).namespaces).to.deep.equal({
        MemCacheSession: { timeoutSeconds: 600, resolutionSeconds: 60 },
        Short: { timeoutSeconds: 5 },
      });
    }
  });

  it("refuses what cannot work, naming the setting and where it came from", () => {
    expect(() => loadConfig(["--workers", "0"], {})).to.throw(ConfigError, /--workers "0" is not an integer >= 1/);
    expect(() => loadConfig([], { SESSIOND_LISTEN: "nowhere" })).to.throw(
      ConfigError,
      /SESSIOND_LISTEN "nowhere" is not HOST:PORT/,
    );
    expect(() => loadConfig(["--config", file("typo.json", '{"max-transaction": 5}')], {})).to.throw(
      ConfigError,
      /unknown key "max-transaction"/,
    );
    expect(() => loadConfig(["--config", file("bad-ns.yaml", "namespaces:\n  A:\n    timeout: -1\n")], {})).to.throw(
      ConfigError,
      /namespace "A".*timeout/,
    );
    expect(() => loadConfig(["--log-level", "loud"], {})).to.throw(ConfigError, /--log-level "loud"/);
    expect(() => loadConfig(["--config", join(dir, "missing.yaml")], {})).to.throw(ConfigError, /cannot read config file/);
    expect(() => loadConfig(["--timeout", "2592000"], {})).to.throw(
      ConfigError,
      /--timeout "2592000" is not a number of seconds > 0 and at most 2591940/,
    );
  });

  it("turns the core's OptionsError into a ConfigError, and only that", () => {
    const logger = pino({ level: "silent" });
    // A resolution over its timeout passes each setting's own rule; the core refuses the pair.
    const config = loadConfig(["--timeout", "10", "--resolution", "20", "--listen", "127.0.0.1:0"], {});
    const err = (() => {
      try {
        createSessiond(config, logger);
      } catch (e) {
        return e;
      }
    })();
    expect(err).to.be.instanceOf(ConfigError);
    expect((err as ConfigError).message).to.match(/resolution of namespace \(default\) must be/);
    expect((err as ConfigError).cause).to.be.instanceOf(OptionsError);
    // A bug while assembling (here: a config object missing its memcached list) is not passed off as a setting.
    const broken = { ...config, memcached: undefined } as unknown as typeof config;
    expect(() => createSessiond(broken, logger)).to.throw(TypeError);
  });

  it("gives a namespace of the config file its own timeout, while others keep the default", async () => {
    const path = file(
      "expiry.json",
      JSON.stringify({ listen: "127.0.0.1:0", namespaces: { Short: { timeout: 1, resolution: 0 } } }),
    );
    const clock = fakeClock();
    const sessiond = createSessiond(loadConfig([], { SESSIOND_CONFIG: path }), pino({ level: "silent" }), clock);
    const client = connectSessionClient(await sessiond.start());
    try {
      for (const namespace of ["Short", "Long"])
        await client.call("set", { namespace, sessionId: "s", package: "p", data: { v: 1 } });
      clock.advance(2200); // past Short's 1 s timeout
      expect((await client.call("get", { namespace: "Short", sessionId: "s", package: "p" })).data).to.deep.equal({});
      expect((await client.call("get", { namespace: "Long", sessionId: "s", package: "p" })).data).to.deep.equal({ v: 1 });
    } finally {
      client.close();
      await sessiond.stop("test over");
    }
  });

  it("documents every setting, its variable and its default in `sessiond serve --help`", async () => {
    const help = spawnProcess(process.execPath, ["--import", "tsx", "server/main.ts", "serve", "--help"]);
    expect(await help.waitForExit()).to.deep.equal({ code: 0, signal: null });
    const text = help.lines.map((l) => l.msg).join("\n");
    for (const s of FLAG_SETTINGS) {
      expect(text).to.match(new RegExp(`--${s.name} .*${s.env}.*\\(default: ${s.defaultText.replace(/[()[\]]/g, "\\$&")}\\)`));
    }
    expect(text).to.include("namespaces");
  });

  it("exits 2 with the reason when a setting cannot work", async () => {
    const bad = spawnProcess(process.execPath, ["--import", "tsx", "server/main.ts", "serve", "--max-transactions", "many"]);
    expect(await bad.waitForExit()).to.deep.equal({ code: 2, signal: null });
    expect(bad.stderr()).to.match(/--max-transactions "many" is not an integer/);
  });

  it("lists every setting in the README's settings table", () => {
    const readme = readFileSync(join(REPO, "README.md"), "utf8");
    const ops = readme.slice(readme.indexOf("<!-- ops:start -->"), readme.indexOf("<!-- ops:end -->"));
    const rows = ops.split("\n").filter((l) => l.startsWith("| `--"));
    for (const s of FLAG_SETTINGS) {
      const row = rows.find((r) => r.startsWith(`| \`--${s.name}`));
      expect(row, `README row for --${s.name}`).to.not.equal(undefined);
      expect(row).to.include(`\`${s.env}\``).and.include(s.defaultText);
    }
    expect(ops).to.include("`namespaces`");
  });

  it("reads the README's example config file as it says", () => {
    const readme = readFileSync(join(REPO, "README.md"), "utf8");
    const ops = readme.slice(readme.indexOf("<!-- ops:start -->"), readme.indexOf("<!-- ops:end -->"));
    const example = /```yaml\n([\s\S]*?)```/.exec(ops)?.[1];
    expect(example, "a yaml block in the README").to.be.a("string");
    const config = loadConfig(["--config", file("readme.yaml", example!)], {});
    expect(config.memcached).to.deep.equal(["memcached-1:11211", "memcached-2:11211"]);
    expect(config.maxTransactions).to.equal(5000);
    expect(config.namespaces.MemCacheSession).to.deep.equal({ timeoutSeconds: 600, resolutionSeconds: 60 });
  });
});
