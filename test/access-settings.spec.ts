// Access-control settings: the config file's `tokens` and `access` sections and the TLS flags are checked
// at start (a mistake names the setting), the README's example means what it says, no `access` section is
// open, and a method missing from the permission table is refused once rules exist (fail closed).

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { expect } from "chai";
import { createAccessControl } from "../server/access/access-control.js";
import { parseAccess } from "../server/access/access-rules.js";
import type { Caller } from "../server/access/identity.js";
import { createTlsCredentials } from "../server/access/tls-credentials.js";
import { parseTokens } from "../server/access/tokens.js";
import { loadConfig } from "../server/config/config.js";
import { ConfigError } from "../server/config/settings.js";
import { bearer, captureLogger, sha256hex } from "./helpers/access.js";
import { REPO } from "./helpers/ops-process.js";

describe("access control: settings", () => {
  it("reads the README's access example: the token hashed there (\"password\") is cart-service's", () => {
    const readme = readFileSync(join(REPO, "README.md"), "utf8");
    const example = /```yaml\n(tokens:[\s\S]*?)```/.exec(readme)?.[1];
    expect(example, "the access example").to.be.a("string");
    const path = join(mkdtempSync(join(tmpdir(), "sessiond-access-readme-")), "access.yaml");
    writeFileSync(path, example!);
    const { access } = loadConfig(["--config", path], {});
    const control = createAccessControl(access, captureLogger().logger);
    const caller = control.authenticate(bearer("password"), undefined);
    expect(caller).to.deep.equal({ identity: "cart-service", via: "token" });
    expect(control.authorize(caller as Caller, "Set", "write", "CheckoutEU")).to.equal(undefined);
    expect(control.authorize(caller as Caller, "InvalidateAll", "admin", "Cart")?.code).to.equal(status.PERMISSION_DENIED);
  });

  it("without an access section lets every caller do everything", () => {
    const access = createAccessControl({ tokens: [], access: undefined }, captureLogger().logger);
    expect(access.enforcing).to.equal(false);
    expect(access.authorize({ identity: "anonymous", via: "anonymous" }, "InvalidateAll", "admin", "Cart")).to.equal(undefined);
  });

  it("fails closed: a method missing from the permission table is refused once rules exist", () => {
    const access = createAccessControl(
      { tokens: [], access: parseAccess([{ identity: "*", namespaces: ["*"], allow: ["read", "write", "admin"] }], "t") },
      captureLogger().logger,
    );
    expect(access.authorize({ identity: "x", via: "token" }, "FutureMethod", undefined, "Cart")?.code).to.equal(
      status.PERMISSION_DENIED,
    );
    expect(access.authorize({ identity: "x", via: "token" }, "Get", "read", "Cart")).to.equal(undefined);
  });

  it("refuses TLS settings that cannot work, naming them", () => {
    expect(() => loadConfig(["--tls-cert", "server.pem"], {})).to.throw(ConfigError, /--tls-cert and --tls-key go together/);
    expect(() => loadConfig(["--tls-client-ca", "ca.pem"], {})).to.throw(ConfigError, /--tls-client-ca needs --tls-cert/);
    expect(() => loadConfig(["--reflection", "maybe"], {})).to.throw(ConfigError, /--reflection "maybe" is not true or false/);
    expect(loadConfig([], { SESSIOND_REFLECTION: "false" }).reflection).to.equal(false);
    expect(() => createTlsCredentials({ certFile: "/nonexistent/server.pem", keyFile: "/nonexistent/key.pem" })).to.throw(
      ConfigError,
      /--tls-cert \/nonexistent\/server.pem: cannot read it/,
    );
  });

  it("refuses malformed tokens and rules, naming the entry", () => {
    expect(() => parseTokens([{ identity: "a", sha256: "abc" }], "f.yaml")).to.throw(
      ConfigError,
      /tokens\[0\] in f\.yaml: sha256/,
    );
    expect(() => parseTokens([{ identity: "anonymous", sha256: sha256hex("t") }], "f")).to.throw(ConfigError, /identity/);
    expect(() => parseAccess([{ identity: "a", namespaces: ["Cart"], allow: ["delete"] }], "f")).to.throw(
      ConfigError,
      /permission "delete"/,
    );
    expect(() => parseAccess([{ identity: "a", namespaces: ["Ca*rt"], allow: ["read"] }], "f")).to.throw(ConfigError, /Ca\*rt/);
    expect(() => parseAccess([{ identity: "a", namespace: ["Cart"], allow: ["read"] }], "f")).to.throw(
      ConfigError,
      /unknown key/,
    );
  });
});
