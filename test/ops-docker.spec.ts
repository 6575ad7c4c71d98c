// The Dockerfile and docker-compose.yml, checked as far as a machine without a Docker engine can: what
// they copy exists, the image runs the built server by node as a non-root user, its HEALTHCHECK probes the
// health service, and the compose file is valid YAML wiring sessiond to memcached.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";
import { parse as parseYaml } from "yaml";
import { REPO, spawnProcess } from "./helpers/ops-process.js";
import { freePort } from "./helpers/wait.js";

interface Instruction {
  keyword: string;
  args: string;
  stage: string;
}

// parseDockerfile reads instructions (continuation lines joined, comments dropped), each with its stage.
function parseDockerfile(text: string): Instruction[] {
  const logical = text
    .split("\n")
    .filter((l) => !l.trimStart().startsWith("#"))
    .join("\n")
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  let stage = "";
  return logical.map((line) => {
    const [keyword, ...rest] = line.split(/\s+/);
    const args = rest.join(" ");
    if (keyword!.toUpperCase() === "FROM") stage = args.split(/\s+AS\s+/i)[1] ?? args;
    return { keyword: keyword!.toUpperCase(), args, stage };
  });
}

// execForm reads a JSON exec form (["node", "x.js"]); a shell form would not get signals as PID 1.
function execForm(args: string): string[] {
  const json = args.replace(/^--\S+\s+/g, "");
  expect(json.startsWith("["), `exec form expected: ${args}`).to.equal(true);
  return JSON.parse(json) as string[];
}

describe("the Dockerfile and docker-compose.yml", function () {
  this.timeout(120_000);
  const instructions = parseDockerfile(readFileSync(join(REPO, "Dockerfile"), "utf8"));
  const runtime = instructions.filter((i) => i.stage === instructions.filter((x) => x.keyword === "FROM").at(-1)!.stage);
  const find = (keyword: string) => runtime.filter((i) => i.keyword === keyword);

  it("builds in stages and copies only files that exist, or that an earlier stage made", () => {
    const stages = instructions.filter((i) => i.keyword === "FROM").map((i) => i.stage);
    expect(stages.length).to.be.at.least(2);
    const ignored = readFileSync(join(REPO, ".dockerignore"), "utf8")
      .split("\n")
      .map((l) => l.trim());
    for (const copy of instructions.filter((i) => i.keyword === "COPY")) {
      const parts = copy.args.split(/\s+/);
      const from = parts.find((p) => p.startsWith("--from="))?.slice("--from=".length);
      const sources = parts.filter((p) => !p.startsWith("--")).slice(0, -1);
      if (from !== undefined) {
        expect(stages.slice(0, stages.indexOf(copy.stage)), `COPY ${copy.args}`).to.include(from);
        continue;
      }
      for (const source of sources) {
        expect(existsSync(join(REPO, source)), `COPY source ${source}`).to.equal(true);
        expect(ignored, `COPY source ${source} is not in .dockerignore`).to.not.include(source);
      }
    }
  });

  it("runs the server with node directly, as a non-root user, on port 50051, with a HEALTHCHECK through the health service", () => {
    const user = find("USER").at(-1)?.args;
    expect(user)
      .to.be.a("string")
      .and.not.match(/^(root|0)(:|$)/);
    expect(find("EXPOSE").map((i) => i.args)).to.include("50051");
    const start = [...execForm(find("ENTRYPOINT").at(-1)!.args), ...execForm(find("CMD").at(-1)!.args)];
    expect(start).to.deep.equal(["node", "dist/server/main.js", "serve"]);
    const probe = execForm(
      find("HEALTHCHECK")
        .at(-1)!
        .args.replace(/^(--\S+\s+)*CMD\s+/, ""),
    );
    expect(probe).to.deep.equal(["node", "dist/server/health-probe.js"]);
  });

  it("starts the built server with the image's command; the HEALTHCHECK finds it healthy; SIGTERM stops it with exit 0", async () => {
    const build = spawnProcess("npm", ["run", "build", "--silent"]);
    expect(await build.waitForExit(90_000), build.stderr()).to.deep.equal({ code: 0, signal: null });
    const start = [...execForm(find("ENTRYPOINT").at(-1)!.args), ...execForm(find("CMD").at(-1)!.args)];
    const probeCommand = execForm(
      find("HEALTHCHECK")
        .at(-1)!
        .args.replace(/^(--\S+\s+)*CMD\s+/, ""),
    );
    const env = { SESSIOND_LISTEN: `127.0.0.1:${await freePort()}`, SESSIOND_LOG_LEVEL: "info" };

    const server = spawnProcess(process.execPath, start.slice(1), env);
    try {
      const started = await server.waitForLog((l) => l.msg === "sessiond started");
      expect(started.address).to.equal(env.SESSIOND_LISTEN);
      const warnings = server.lines.filter((l) => l.level === "warn").map((l) => l.msg);
      expect(warnings, "the memory-store and open-access warnings").to.have.length(2);
      expect(warnings.filter((m) => m?.startsWith("no access section"))).to.have.length(1);

      const probe = spawnProcess(process.execPath, probeCommand.slice(1), env);
      expect(await probe.waitForExit(), probe.stderr()).to.deep.equal({ code: 0, signal: null });
    } finally {
      server.child.kill("SIGTERM");
    }
    expect(await server.waitForExit()).to.deep.equal({ code: 0, signal: null });

    const down = spawnProcess(process.execPath, probeCommand.slice(1), env);
    expect((await down.waitForExit()).code, "the probe fails once the server is gone").to.equal(1);
  });

  it("runs on a glibc base, where libsodium's binary (sealed storage) loads", () => {
    const stages = instructions.filter((i) => i.keyword === "FROM" && /\bAS\s+runtime/i.test(i.args));
    expect(stages).to.have.length(2);
    for (const from of stages)
      expect(from.args, from.args)
        .to.match(/^node:20-bookworm/)
        .and.not.match(/alpine/);
  });

  it("needs no dev dependency at run time: the image installs the runtime ones only", () => {
    const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    const imported = new Set<string>();
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.name.endsWith(".js")) {
          for (const [, spec] of readFileSync(path, "utf8").matchAll(/(?:from|import)\s*\(?\s*"([^".][^"]*)"/g)) {
            if (!spec!.startsWith("node:"))
              imported.add(spec!.startsWith("@") ? spec!.split("/").slice(0, 2).join("/") : spec!.split("/")[0]!);
          }
        }
      }
    };
    walk(join(REPO, "dist", "server")); // built by the test above
    walk(join(REPO, "dist", "gen"));
    expect([...imported]).to.include.members(["@grpc/grpc-js", "pino"]);
    for (const name of imported) expect(pkg.dependencies, `${name} is imported by the server`).to.have.property(name);
  });

  it("has a compose file that runs this image next to memcached and lets it drain before SIGKILL", () => {
    const compose = parseYaml(readFileSync(join(REPO, "docker-compose.yml"), "utf8")) as {
      services: Record<
        string,
        { build?: string; image?: string; environment?: Record<string, string>; ports?: string[]; stop_grace_period?: string }
      >;
    };
    const { sessiond, memcached } = compose.services;
    expect(sessiond?.build).to.equal(".");
    expect(memcached?.image).to.match(/^memcached:/);
    expect(sessiond?.environment?.SESSIOND_MEMCACHED).to.equal("memcached:11211");
    expect(sessiond?.ports).to.include("50051:50051");
    // Its callers come from outside the container's loopback: protected mode would refuse them all.
    expect(sessiond?.environment?.SESSIOND_OPEN_ACCESS, "the explicit form of open access").to.equal("true");
    const graceSeconds = Number(sessiond?.environment?.SESSIOND_GRACE ?? 10);
    expect(Number.parseInt(sessiond?.stop_grace_period ?? "10", 10)).to.be.above(graceSeconds);
  });
});
