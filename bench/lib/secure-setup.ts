import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NAMESPACE } from "./workload.js";

/**
 * SecureSetup is what the TLS + token rows need: a CA and a server certificate for "localhost" (made with
 * the openssl CLI in a temporary folder, never committed), a random bearer token, and a config file whose
 * `tokens` and `access` sections let that token read and write the bench namespace (and nothing else).
 */
export interface SecureSetup {
  /** serverArgs are the `sessiond serve` flags: --tls-cert, --tls-key, --config. */
  serverArgs: string[];
  /** tokenArgs are the flags of the token rows without TLS: --config (tokens and access rules). */
  tokenArgs: string[];
  /** ca is the CA certificate's PEM text, for the load clients. */
  ca: string;
  /** token is the bearer token the load clients send. */
  token: string;
}

let made: SecureSetup | undefined;

/** secureSetup makes the SecureSetup once per bench run and returns it. */
export function secureSetup(): SecureSetup {
  if (made !== undefined) return made;
  const dir = mkdtempSync(join(tmpdir(), "sessiond-bench-tls-"));
  const path = (name: string) => join(dir, name);
  const openssl = (command: string) => execFileSync("openssl", command.split(" "), { stdio: ["ignore", "ignore", "pipe"] });
  const ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
  openssl(
    `req -x509 ${ec} -keyout ${path("ca-key.pem")} -out ${path("ca.pem")} -days 2 -subj /CN=bench-ca ` +
      "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign",
  );
  writeFileSync(path("server.ext"), "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n");
  openssl(`req ${ec} -keyout ${path("server-key.pem")} -out ${path("server.csr")} -subj /CN=localhost`);
  openssl(
    `x509 -req -in ${path("server.csr")} -CA ${path("ca.pem")} -CAkey ${path("ca-key.pem")} -CAcreateserial ` +
      `-out ${path("server.pem")} -days 2 -extfile ${path("server.ext")}`,
  );
  const token = randomBytes(24).toString("base64url");
  const config = {
    tokens: [{ identity: "bench", sha256: createHash("sha256").update(token).digest("hex") }],
    access: [{ identity: "bench", namespaces: [NAMESPACE], allow: ["read", "write"] }],
  };
  writeFileSync(path("sessiond.json"), JSON.stringify(config));
  made = {
    serverArgs: ["--tls-cert", path("server.pem"), "--tls-key", path("server-key.pem"), "--config", path("sessiond.json")],
    tokenArgs: ["--config", path("sessiond.json")],
    ca: readFileSync(path("ca.pem"), "utf8"),
    token,
  };
  return made;
}
