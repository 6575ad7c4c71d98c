// The README's SDK examples, run against a live sessiond so that they cannot rot (connect-es's
// node-readme.spec.ts): the ```ts blocks between <!-- sdk:start --> and <!-- sdk:end --> are joined in order
// into one module, `sessiond/client` pointed at this checkout's client, and `address` given by the test.

import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { expect } from "chai";
import { type MemcachedProcess, startMemcached } from "./helpers/memcached.js";
import { type RunningSessiond, startSessiond } from "./helpers/sessiond.js";

const readmePath = fileURLToPath(new URL("../README.md", import.meta.url));
const clientPath = fileURLToPath(new URL("../client/index.ts", import.meta.url));
const clientEntry = pathToFileURL(clientPath).href;
const tscPath = fileURLToPath(new URL("../node_modules/typescript/bin/tsc", import.meta.url));
const typeRoot = fileURLToPath(new URL("../node_modules/@types", import.meta.url));

/** sdkExamples returns the ```ts blocks of the README's SDK section, in order. */
async function sdkExamples(): Promise<string[]> {
  const readme = await readFile(readmePath, "utf8");
  const section = /<!-- sdk:start -->([\s\S]*)<!-- sdk:end -->/.exec(readme)?.[1] ?? "";
  return [...section.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => match[1]!);
}

describe("the README's SDK section", function () {
  this.timeout(20_000);
  let memcached: MemcachedProcess;
  let sessiond: RunningSessiond;
  let dir: string;

  before(async () => {
    memcached = await startMemcached();
    sessiond = await startSessiond({ memcached: [memcached.address] });
    dir = await mkdtemp(join(tmpdir(), "sessiond-readme-"));
  });
  after(async () => {
    await sessiond?.stop();
    await memcached?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("shows connect, one-shot calls, transactions, savepoints, errors and cancellation in ts examples", async () => {
    const code = (await sdkExamples()).join("\n");
    for (const shown of ["createSessionClient(", ".session(", ".transaction(", ".savepoint()", "ConflictError", "signal"]) {
      expect(code).to.include(shown);
    }
  });

  it("type-checks its examples strictly against the SDK's types", async () => {
    const blocks = await sdkExamples();
    await writeFile(join(dir, "typed.mts"), ["declare const address: string;", ...blocks, "export {};"].join("\n"));
    const compilerOptions = {
      strict: true,
      noUncheckedIndexedAccess: true,
      module: "NodeNext",
      moduleResolution: "NodeNext",
      target: "ES2022",
      noEmit: true,
      skipLibCheck: true,
      types: ["node"],
      typeRoots: [typeRoot],
      paths: { "sessiond/client": [clientPath] },
    };
    await writeFile(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, files: ["typed.mts"] }));
    const checked = await promisify(execFile)(process.execPath, [tscPath, "-p", dir]).then(
      () => "",
      (err: { stdout?: string }) => err.stdout ?? String(err),
    );
    expect(checked).to.equal("");
  });

  it("runs its examples, in order, against a live sessiond", async () => {
    const blocks = await sdkExamples();
    expect(blocks.length).to.be.at.least(5);
    const module = [
      `const address = ${JSON.stringify(sessiond.address)};`,
      ...blocks.map((block) => block.replaceAll('"sessiond/client"', JSON.stringify(clientEntry))),
      // The module's last word: if any example threw, this line is never reached.
      "export const finished = true;",
    ].join("\n");
    const file = join(dir, "readme-sdk.mts");
    await writeFile(file, module);
    const ran = (await import(pathToFileURL(file).href)) as { finished?: boolean };
    expect(ran.finished).to.equal(true);
  });
});
