// The README's login-flow walkthrough with grpcurl, run command by command through a reflection-only
// client (as test/ops-readme.spec.ts runs the lovely.session one), each outcome checked. The SDK version of
// the same flow is a ```ts block of the SDK section, run by test/sdk-readme.spec.ts.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { expect } from "chai";
import { useSessiond } from "./helpers/fixture.js";
import { connectReflection, findMethod, invoke, resolveSymbol } from "./helpers/ops-grpcurl.js";
import { REPO } from "./helpers/ops-process.js";

const TITLE = '### A grpcurl walkthrough: the login flow and "log out everywhere"';

// loginCommands returns the grpcurl command lines of the walkthrough's sh block, split into words.
function loginCommands(): string[][] {
  const readme = readFileSync(join(REPO, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf(TITLE));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
  return block
    .split("\n")
    .filter((line) => line.startsWith("grpcurl "))
    .map((line) => [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!));
}

describe("the README's login-flow walkthrough with grpcurl", function () {
  this.timeout(30_000);
  const env = useSessiond();

  async function grpcurl(argv: string[]): Promise<JsonObject> {
    const args = argv.slice(1).filter((a) => a !== "-plaintext");
    const data = args.splice(args.indexOf("-d"), 2)[1]!;
    const [address, rpc] = args;
    expect(address).to.equal("localhost:50051");
    const reflection = connectReflection(env.sessiond.address, "v1");
    try {
      const { registry } = await resolveSymbol(reflection, rpc!.split("/")[0]!);
      const [answer] = await invoke(env.sessiond.address, findMethod(registry, rpc!), [JSON.parse(data) as JsonValue]);
      return answer as JsonObject;
    } finally {
      reflection.close();
    }
  }

  it("binds at login, lists alice's devices without ids, and logs her out everywhere", async () => {
    const commands = loginCommands();
    const rpcs = commands.map((argv) => argv.at(-1)!.split("/")[1]);
    expect(rpcs).to.deep.equal([
      "Set",
      "RotateSession",
      "Set",
      "SetPrincipal",
      "DescribeSession",
      "ListPrincipalSessions",
      "RevokeSessions",
      "Get",
      "ListPrincipalSessions",
    ]);
    const out: JsonObject[] = [];
    for (const argv of commands) out.push(await grpcurl(argv));
    const [, rotated, , bound, described, devices, revoked, afterGet, afterList] = out;

    expect(rotated!.sessionId).to.be.a("string").and.not.equal("myBrowserSession");
    expect(rotated!.handle).to.be.a("string");
    const session = described!.session as JsonObject;
    expect(session).to.include({ sessionId: "myLaptopSession", principal: "alice", handle: bound!.handle });
    expect(session.attributes).to.deep.equal({ device: "laptop" });
    expect(session).to.have.property("expiresAt");
    const listed = devices!.sessions as JsonObject[];
    expect(listed.map((s) => s.handle).sort()).to.deep.equal([rotated!.handle, bound!.handle].sort());
    for (const s of listed) expect(s).to.not.have.property("sessionId");
    expect(revoked).to.deep.equal({ revokedCount: 2 });
    expect(afterGet).to.deep.equal({ data: {} });
    expect(afterList).to.deep.equal({});
  });
});
