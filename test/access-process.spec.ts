// The real `sessiond serve` process with TLS, tokens and access rules from its config file: SIGHUP re-reads
// the certificate, the tokens and the rules at once (new connections see the new certificate, an open
// stream goes on); plaintext on a non-loopback address warns once; reflection can be turned off.

import { X509Certificate } from "node:crypto";
import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { credentials, status } from "@grpc/grpc-js";
import { expect } from "chai";
import { createSessionClient, type SessionClient } from "../client/index.js";
import { bearer, connectRaw, failure, sha256hex } from "./helpers/access.js";
import { createCertificateAuthority, serverCertificate } from "./helpers/certificates.js";
import { type MemcachedProcess, startMemcached } from "./helpers/memcached.js";
import { connectReflection } from "./helpers/ops-grpcurl.js";
import { type SessiondProcess, spawnProcess, startSessiondProcess } from "./helpers/ops-process.js";
import { op } from "./helpers/sessiond.js";

const dir = mkdtempSync(join(tmpdir(), "sessiond-access-process-"));

function configFile(tokens: Array<[string, string]>): string {
  const path = join(dir, "sessiond.json");
  writeFileSync(
    path,
    JSON.stringify({
      tokens: tokens.map(([identity, token]) => ({ identity, sha256: sha256hex(token) })),
      access: [{ identity: "cart-service", namespaces: ["Cart"], allow: ["read", "write"] }],
    }),
  );
  return path;
}

// presentedCertificate opens a fresh TLS connection and returns the SHA-256 fingerprint the server shows.
function presentedCertificate(address: string, ca: Buffer[]): Promise<string> {
  const [host, port] = [address.replace(/:\d+$/, ""), Number(address.split(":").pop())];
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, ca, servername: "localhost", ALPNProtocols: ["h2"] }, () => {
      resolve(socket.getPeerX509Certificate()!.fingerprint256);
      socket.destroy();
    });
    socket.on("error", reject);
  });
}

describe("sessiond serve with TLS and access rules", function () {
  this.timeout(60_000);
  let memcached: MemcachedProcess;
  let proc: (SessiondProcess & { address: string }) | undefined;
  const clients: SessionClient[] = [];

  before(async () => {
    memcached = await startMemcached();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    if (proc !== undefined && proc.child.exitCode === null) {
      proc.child.kill("SIGTERM");
      await proc.waitForExit();
    }
    proc = undefined;
  });
  after(() => memcached?.stop());

  it("re-reads certificate, tokens and rules on SIGHUP: new connections see the new certificate, an open stream goes on", async () => {
    const oldCa = createCertificateAuthority("process-old-ca");
    const newCa = createCertificateAuthority("process-new-ca");
    const oldServer = serverCertificate(oldCa, "process-old-server");
    const newServer = serverCertificate(newCa, "process-new-server");
    const certFile = join(dir, "server.pem");
    const keyFile = join(dir, "server-key.pem");
    copyFileSync(oldServer.certFile, certFile);
    copyFileSync(oldServer.keyFile, keyFile);
    const config = configFile([["cart-service", "old-token"]]);
    proc = await startSessiondProcess([
      ...["--memcached", memcached.address, "--config", config, "--tls-cert", certFile, "--tls-key", keyFile],
    ]);
    const address = proc.address.replace("127.0.0.1", "localhost");
    const oldFingerprint = new X509Certificate(oldServer.cert).fingerprint256;
    const newFingerprint = new X509Certificate(newServer.cert).fingerprint256;
    expect(await presentedCertificate(proc.address, [oldCa.pem, newCa.pem])).to.equal(oldFingerprint);

    const raw = connectRaw(address, credentials.createSsl(oldCa.pem));
    const open = raw.stream(bearer("old-token"));
    expect((await open.send(op("begin", { namespace: "Cart", sessionId: "hup" }))).result.case).to.equal("begin");
    await open.send(op("set", { package: "p", data: { before: "SIGHUP" } }));

    copyFileSync(newServer.certFile, certFile);
    copyFileSync(newServer.keyFile, keyFile);
    configFile([["cart-service", "new-token"]]);
    proc.child.kill("SIGHUP");
    await proc.waitForLog((l) => l.msg === "reloaded on SIGHUP" && l.reloaded === "tokens and access");
    // The certificate files are read asynchronously: wait (bounded) until a new connection shows the new one.
    let seen = "";
    for (let i = 0; i < 100 && seen !== newFingerprint; i++) {
      seen = await presentedCertificate(proc.address, [oldCa.pem, newCa.pem]);
      if (seen !== newFingerprint) await new Promise((r) => setTimeout(r, 50));
    }
    expect(seen, "a new connection sees the new certificate").to.equal(newFingerprint);

    await open.send(op("set", { package: "p", data: { after: "SIGHUP" } }));
    expect((await open.send(op("commit"))).result.case, "the open stream goes on").to.equal("commit");
    await open.end();
    raw.close();

    const fresh = createSessionClient(address, { tls: { ca: newCa.pem }, token: "new-token", retry: { attempts: 1 } });
    const stale = createSessionClient(address, { tls: { ca: newCa.pem }, token: "old-token", retry: { attempts: 1 } });
    clients.push(fresh, stale);
    expect(await fresh.session("Cart", "hup").get("p")).to.deep.equal({ before: "SIGHUP", after: "SIGHUP" });
    expect((await failure(stale.session("Cart", "hup").get("p"))).code, "the old token is gone").to.equal(status.UNAUTHENTICATED);
  });

  it("forwards SIGHUP from the cluster primary to every worker, each reloading tokens and access", async () => {
    const config = configFile([["cart-service", "first-token"]]);
    const flags = ["--workers", "2", "--listen", "127.0.0.1:0", "--memcached", memcached.address, "--config", config];
    const cluster = spawnProcess(process.execPath, ["--import", "tsx", "server/main.ts", "serve", ...flags]);
    // Two workers start tsx each: give a loaded machine time.
    const started = await cluster.waitForLog((l) => l.msg === "sessiond cluster started", 45_000);
    proc = Object.assign(cluster, { address: (await cluster.waitForLog((l) => l.msg === "sessiond started")).address as string });
    const workers = (started.workers as number[]).sort();
    configFile([["cart-service", "second-token"]]);
    proc.child.kill("SIGHUP");
    const reloaded = async () => {
      const deadline = Date.now() + 10_000;
      const pids = () =>
        proc!.lines.filter((l) => l.msg === "reloaded on SIGHUP" && l.reloaded === "tokens and access").map((l) => l.pid);
      while (pids().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      return [...new Set(pids())].sort();
    };
    expect(await reloaded()).to.deep.equal(workers);
    const client = createSessionClient(proc.address, { token: "second-token" });
    clients.push(client);
    await client.session("Cart", "cluster").set("p", { reloaded: true });
    expect(await client.session("Cart", "cluster").get("p")).to.deep.equal({ reloaded: true });
  });

  it("keeps the old tokens and rules when the edited config file is wrong, logging an error", async () => {
    const config = configFile([["cart-service", "kept-token"]]);
    proc = await startSessiondProcess(["--memcached", memcached.address, "--config", config]);
    writeFileSync(config, "{ not json");
    proc.child.kill("SIGHUP");
    const error = await proc.waitForLog((l) => l.msg === "reload failed: the previous settings stay");
    expect(error.level).to.equal("error");
    const client = createSessionClient(proc.address, { token: "kept-token" });
    clients.push(client);
    await client.session("Cart", "kept").set("p", { ok: true });
    expect(await client.session("Cart", "kept").get("p")).to.deep.equal({ ok: true });
  });

  it("warns once about plaintext on a non-loopback address and about an open server; serves no reflection when told", async () => {
    proc = await startSessiondProcess(["--listen", "0.0.0.0:0", "--reflection", "false"]);
    const warnings = proc.lines.filter((l) => l.level === "warn").map((l) => String(l.msg));
    expect(warnings.filter((m) => m.startsWith("serving plaintext on a non-loopback address"))).to.have.length(1);
    expect(warnings.filter((m) => m.startsWith("no access section"))).to.have.length(1);
    const reflection = connectReflection(proc.address.replace("0.0.0.0", "127.0.0.1"), "v1");
    try {
      expect((await failure(reflection.listServices())).code).to.equal(status.UNIMPLEMENTED);
    } finally {
      reflection.close();
    }
  });
});
