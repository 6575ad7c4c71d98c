// The data key file: `ID:BASE64` lines, `#` comments, the first key seals; every mistake is refused with
// the file and line named and the secret never quoted; a reload that fails keeps the keys in use.

import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { ConfigError, loadConfig } from "../server/config/config.js";
import { DataKeyError, openDataKeyFile, parseDataKeys } from "../server/store/data-keys.js";

const base64Key = () => randomBytes(32).toString("base64");
const refusal = (text: string): string => {
  try {
    parseDataKeys(text, "keys.txt");
  } catch (err) {
    expect(err).to.be.instanceOf(DataKeyError);
    return (err as Error).message;
  }
  return expect.fail(`accepted ${JSON.stringify(text)}`);
};

describe("data key files", () => {
  it("reads ID:BASE64 lines, skipping comments and blank lines; the first key seals", () => {
    const text = `# rotated 2026-11\n\n2026-11:${base64Key()}\r\n  2026_05:${base64Key()}  \n# old\n`;
    const keys = parseDataKeys(text, "keys.txt");
    expect(keys.ids).to.deep.equal(["2026-11", "2026_05"]);
    expect(keys.sealing.id).to.equal("2026-11");
    expect(keys.byId("2026_05")?.secret).to.have.length(32);
    expect(keys.byId("2026-12")).to.equal(undefined);
  });

  it("takes a key made as the README says, with openssl rand -base64 32", () => {
    const made = execFileSync("openssl", ["rand", "-base64", "32"], { encoding: "utf8" });
    expect(parseDataKeys(`k202611:${made}`, "keys.txt").sealing.id).to.equal("k202611");
  });

  it("refuses a file without keys, a bad id, a key of the wrong size, bad base64 and a repeated id", () => {
    const secret = randomBytes(16).toString("base64");
    expect(refusal("# only a comment\n")).to.equal("keys.txt: no key (want lines of ID:BASE64)");
    expect(refusal(`has space:${base64Key()}`)).to.match(/^keys.txt line 1: want ID:BASE64/);
    expect(refusal(`${"x".repeat(17)}:${base64Key()}`)).to.match(/^keys.txt line 1: want ID:BASE64/);
    expect(refusal(base64Key())).to.match(/^keys.txt line 1: want ID:BASE64/);
    const short = refusal(`\nk1:${secret}`);
    expect(short).to.equal("keys.txt line 2: key k1 is not 32 bytes in base64 (make one with: openssl rand -base64 32)");
    expect(short).to.not.include(secret);
    expect(refusal(`k1:${base64Key().replace(/[A-Za-z]/, "*")}`)).to.include("key k1 is not 32 bytes");
    expect(refusal(`k1:${base64Key()}\nk1:${base64Key()}`)).to.equal("keys.txt line 2: key id k1 is listed twice");
  });

  it("keeps the keys in use when a reload finds a bad file", () => {
    const path = join(mkdtempSync(join(tmpdir(), "sessiond-keys-")), "keys");
    writeFileSync(path, `a:${base64Key()}\n`);
    const file = openDataKeyFile(path);
    writeFileSync(path, `b:${base64Key()}\na:${base64Key()}\n`);
    expect(file.reload().ids).to.deep.equal(["b", "a"]);
    writeFileSync(path, "b:oops\n");
    expect(() => file.reload()).to.throw(DataKeyError, "line 1: key b is not 32 bytes");
    expect(file.current.ids).to.deep.equal(["b", "a"]);
  });

  it("is checked when settings are loaded: a bad file is a configuration error", () => {
    const path = join(mkdtempSync(join(tmpdir(), "sessiond-keys-")), "keys");
    writeFileSync(path, `a:${base64Key()}\n`);
    expect(loadConfig(["--data-keys", path], {}).dataKeysFile).to.equal(path);
    expect(loadConfig([], { SESSIOND_DATA_KEYS: path }).dataKeysFile).to.equal(path);
    expect(loadConfig([], {}).dataKeysFile).to.equal(undefined);
    expect(() => loadConfig(["--data-keys", `${path}.missing`], {})).to.throw(
      ConfigError,
      `--data-keys: cannot read data key file ${path}.missing: ENOENT`,
    );
  });
});
