// The README's grpcurl walkthrough, run command by command through a client that, like grpcurl, knows the
// API only through server reflection: if the README or the server drifts, this fails.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { expect } from "chai";
import { useSessiond } from "./helpers/fixture.js";
import { connectReflection, findMethod, invoke, resolveSymbol } from "./helpers/ops-grpcurl.js";
import { REPO } from "./helpers/ops-process.js";

/** Command is one grpcurl command line of the README with its input (a heredoc). */
interface Command {
  argv: string[];
  stdin: string[];
}

// readmeCommands reads the grpcurl commands of the README's ops section, in order.
function readmeCommands(): Command[] {
  const readme = readFileSync(join(REPO, "README.md"), "utf8");
  const ops = readme.slice(readme.indexOf("<!-- ops:start -->"), readme.indexOf("<!-- ops:end -->"));
  const blocks = [...ops.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1]!, lines: m[2]!.split("\n") }));
  const commands: Command[] = [];
  for (const block of blocks) {
    if (block.lang !== "sh") continue;
    for (let j = 0; j < block.lines.length; j++) {
      const line = block.lines[j]!.trim();
      if (!line.startsWith("grpcurl ")) continue;
      const heredoc = line.endsWith("<<'EOF'");
      const argv = words(heredoc ? line.slice(0, -"<<'EOF'".length) : line);
      const stdin: string[] = [];
      if (heredoc) {
        while (block.lines[++j]!.trim() !== "EOF") stdin.push(block.lines[j]!);
      }
      commands.push({ argv, stdin });
    }
  }
  return commands;
}

// words splits a shell line on spaces, honouring single quotes (all the README uses).
function words(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

describe("the README's grpcurl walkthrough", function () {
  this.timeout(30_000);
  const env = useSessiond();
  const commands = readmeCommands();

  // grpcurl runs one README command as grpcurl would, against the test server instead of localhost:50051.
  async function grpcurl(command: Command): Promise<JsonValue[] | string[]> {
    const args = command.argv.slice(1).filter((a) => a !== "-plaintext");
    const data = args.includes("-d") ? args.splice(args.indexOf("-d"), 2)[1] : undefined;
    const [address, verb, symbol] = args;
    expect(address).to.equal("localhost:50051");
    const reflection = connectReflection(env.sessiond.address, "v1");
    try {
      if (verb === "list") return await reflection.listServices();
      if (verb === "describe") {
        const { registry } = await resolveSymbol(reflection, symbol!);
        expect(registry.get(symbol!), `describe ${symbol}`).to.not.equal(undefined);
        return [symbol!];
      }
      const { registry } = await resolveSymbol(reflection, verb!.split("/")[0]!);
      const method = findMethod(registry, verb!);
      const requests =
        data === "@" ? command.stdin.map((l) => JSON.parse(l) as JsonValue) : [JSON.parse(data ?? "{}") as JsonValue];
      return await invoke(env.sessiond.address, method, requests);
    } finally {
      reflection.close();
    }
  }

  it("has commands for listing, describing, health and every RPC of the service", () => {
    const called = commands.map((c) => c.argv.find((a) => a.includes("/")));
    for (const rpc of [
      "CreateSession",
      "Get",
      "Set",
      "Delete",
      "ListSessions",
      "InvalidateAll",
      "RotateSession",
      "Transaction",
    ]) {
      expect(called, rpc).to.include(`sessiond.v1.SessionService/${rpc}`);
    }
    expect(called).to.include("grpc.health.v1.Health/Check");
    expect(commands.map((c) => c.argv[3])).to.include.members(["list", "describe"]);
  });

  it("runs every command with the outcome the README describes", async () => {
    const outputs: Array<{ argv: string[]; output: JsonValue[] | string[] }> = [];
    for (const command of commands) outputs.push({ argv: command.argv, output: await grpcurl(command) });
    const of = (rpc: string) =>
      outputs.filter((o) => o.argv.some((a) => a.endsWith(`/${rpc}`))).map((o) => o.output as JsonObject[]);

    expect(outputs[0]!.output).to.include.members(["sessiond.v1.SessionService", "grpc.health.v1.Health"]);
    expect(of("Check")).to.deep.equal([[{ status: "SERVING" }]]);
    const [before, after] = of("Get");
    expect(before).to.deep.equal([{ data: {} }]);
    expect(after).to.deep.equal([{ data: { info: "stored in memcache" } }]);
    const [committed, savepoints] = of("Transaction");
    expect(committed!.map((a) => Object.keys(a)[0])).to.deep.equal(["begin", "set", "commit"]);
    expect((of("ListSessions")[0]![0]!.sessions as JsonObject[]).map((s) => s.sessionId)).to.deep.equal(["mySessionId"]);

    const kept = { get: { data: { info: "we want to keep this" } } };
    expect(savepoints!.filter((a) => "error" in a)).to.deep.equal([]);
    expect(savepoints!.filter((a) => "get" in a)).to.deep.equal([kept, kept, { get: { data: {} } }]);
    expect(Object.keys(savepoints!.at(-1)!)).to.deep.equal(["commit"]);

    expect(of("CreateSession")[0]![0]!.sessionId).to.be.a("string");
    const rotated = of("RotateSession")[0]![0]!.sessionId as string;
    const moved = await env.sessiond.call("get", { namespace: "MemCacheSession", sessionId: rotated, package: "prefs" });
    expect(moved.data).to.deep.equal({ theme: "dark" });
    const myData = await env.sessiond.call("get", { namespace: "MemCacheSession", sessionId: rotated, package: "myData" });
    expect(myData.data).to.deep.equal({ info: "we want to keep this" });
  });
});
