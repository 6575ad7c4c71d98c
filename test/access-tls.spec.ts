// TLS and mTLS: a client must speak TLS, present a certificate signed by the configured CA (never a public
// or other CA), and is named by its certificate (URI SAN, else DNS SAN, else CN) unless a bearer token
// names it; refused connections write nothing.

import { credentials, status } from "@grpc/grpc-js";
import { expect } from "chai";
import { createSessionClient, type SessionClient } from "../client/index.js";
import { createAccessControl } from "../server/access/access-control.js";
import { parseAccess } from "../server/access/access-rules.js";
import { createTlsCredentials } from "../server/access/tls-credentials.js";
import { parseTokens } from "../server/access/tokens.js";
import { bearer, captureLogger, connectRaw, failure, sha256hex } from "./helpers/access.js";
import { connectHealth } from "./helpers/access-health.js";
import { createCertificateAuthority, type Leaf, serverCertificate } from "./helpers/certificates.js";
import { type MemcachedProcess, startMemcached } from "./helpers/memcached.js";
import { op, type RunningSessiond, startSessiond } from "./helpers/sessiond.js";

describe("TLS and mTLS", function () {
  this.timeout(30_000);
  const ca = createCertificateAuthority("tls-spec-ca");
  const otherCa = createCertificateAuthority("tls-spec-other-ca");
  const server = serverCertificate(ca, "tls-spec-server");
  const cart = ca.issue("tls-spec-cart", { cn: "ignored", dns: ["cart.internal"], uris: ["spiffe://td/ns/shop/sa/cart"] });
  const billing = ca.issue("tls-spec-billing", { cn: "ignored", dns: ["billing.internal", "b2.internal"] });
  const reporter = ca.issue("tls-spec-reporter", { cn: "reporter" });
  const impostor = otherCa.issue("tls-spec-impostor", { cn: "x", uris: ["spiffe://td/ns/shop/sa/cart"] });
  let memcached: MemcachedProcess;
  let mtls: RunningSessiond;
  let tlsOnly: RunningSessiond;
  const clients: SessionClient[] = [];

  const access = () =>
    createAccessControl(
      {
        tokens: parseTokens([{ identity: "ops", sha256: sha256hex("ops-token") }], "test"),
        access: parseAccess(
          [
            { identity: "spiffe://td/ns/shop/sa/cart", namespaces: ["Cart"], allow: ["read", "write"] },
            { identity: "billing.internal", namespaces: ["Cart"], allow: ["read"] },
            { identity: "reporter", namespaces: ["Cart"], allow: ["read"] },
            { identity: "ops", namespaces: ["*"], allow: ["read", "write", "admin"] },
          ],
          "test",
        ),
      },
      captureLogger().logger,
    );

  before(async () => {
    memcached = await startMemcached();
    const files = { certFile: server.certFile, keyFile: server.keyFile };
    mtls = await startSessiond({
      memcached: [memcached.address],
      security: { credentials: createTlsCredentials({ ...files, clientCaFile: ca.certFile }).credentials, access: access() },
    });
    tlsOnly = await startSessiond({
      memcached: [memcached.address],
      security: { credentials: createTlsCredentials(files).credentials, access: access() },
    });
  });
  after(async () => {
    for (const c of clients) c.close();
    await mtls?.stop();
    await tlsOnly?.stop();
    await memcached?.stop();
  });

  function client(address: string, leaf: Leaf | undefined, token?: string): SessionClient {
    // "localhost", as the certificate names it: Node warns about IP addresses as TLS server names.
    const c = createSessionClient(address.replace("127.0.0.1", "localhost"), {
      tls: { ca: ca.pem, ...(leaf === undefined ? {} : { cert: leaf.cert, key: leaf.key }) },
      ...(token === undefined ? {} : { token }),
      retry: { attempts: 1 },
      timeoutMs: 5000,
    });
    clients.push(c);
    return c;
  }
  const code = (promise: Promise<unknown>) => failure(promise).then((e) => e.code);

  it("serves a client with a certificate of the CA, named by its URI SAN, a whole transaction included", async () => {
    const c = client(mtls.address, cart);
    const s = c.session("Cart", "tls-1");
    await s.set("p", { items: 1 });
    await c.transaction("Cart", "tls-1", async (tx) => {
      const sp = await tx.savepoint();
      tx.set("p", { items: 5 });
      await sp.rollback();
      tx.set("p", { paid: true });
    });
    expect(await s.get("p")).to.deep.equal({ items: 1, paid: true });
  });

  it("listens only once the certificate files are loaded: the very first connection is served", async () => {
    const fresh = await startSessiond({
      memcached: [memcached.address],
      security: { credentials: createTlsCredentials({ certFile: server.certFile, keyFile: server.keyFile }).credentials },
    });
    try {
      expect(await client(fresh.address, undefined).session("Cart", "first").get("p")).to.deep.equal({});
    } finally {
      await fresh.stop();
    }
  });

  it("refuses a plaintext client, a certificate of another CA and a missing certificate, writing nothing", async () => {
    const plaintext = connectRaw(mtls.address, credentials.createInsecure());
    try {
      const err = await failure(plaintext.call("set", { namespace: "Cart", sessionId: "tls-2", package: "p", data: { a: 1 } }));
      expect(err.code).to.equal(status.UNAVAILABLE);
    } finally {
      plaintext.close();
    }
    expect(await code(client(mtls.address, impostor).session("Cart", "tls-2").set("p", { a: 1 }))).to.equal(status.UNAVAILABLE);
    expect(await code(client(mtls.address, undefined).session("Cart", "tls-2").set("p", { a: 1 }))).to.equal(status.UNAVAILABLE);
    expect(await client(mtls.address, cart).session("Cart", "tls-2").get("p")).to.deep.equal({});
  });

  it("names a certificate without a URI SAN by its first DNS SAN, and one without SANs by its CN", async () => {
    expect(await client(mtls.address, billing).session("Cart", "tls-1").get("p")).to.deep.equal({ items: 1, paid: true });
    const denied = await failure(client(mtls.address, billing).session("Cart", "tls-1").set("p", { x: 1 }));
    expect(denied.code).to.equal(status.PERMISSION_DENIED);
    expect(denied.message).to.include('"billing.internal"');
    const cn = await failure(client(mtls.address, reporter).session("Cart", "tls-1").delete());
    expect(cn.message).to.include('"reporter"').and.include("write");
    expect(await client(mtls.address, cart).session("Cart", "tls-1").get("p")).to.deep.equal({ items: 1, paid: true });
  });

  it("answers UNAUTHENTICATED to an unknown token even with a valid certificate; a known token names the caller", async () => {
    expect(await code(client(mtls.address, cart, "not-a-token").session("Cart", "tls-1").get("p"))).to.equal(
      status.UNAUTHENTICATED,
    );
    const ops = client(mtls.address, billing, "ops-token");
    await ops.session("Cart", "tls-3").set("p", { by: "ops" }); // billing alone may not write: the token wins
    expect(await ops.session("Cart", "tls-3").get("p")).to.deep.equal({ by: "ops" });
  });

  it("serves TLS without client certificates, where tokens name callers and a refused op keeps the stream", async () => {
    const anonymous = client(tlsOnly.address, undefined);
    expect(await code(anonymous.session("Cart", "tls-1").get("p"))).to.equal(status.PERMISSION_DENIED);
    const raw = connectRaw(tlsOnly.address.replace("127.0.0.1", "localhost"), credentials.createSsl(ca.pem));
    try {
      const stream = raw.stream(bearer("ops-token"));
      expect((await stream.send(op("begin", { namespace: "Cart", sessionId: "tls-4" }))).result.case).to.equal("begin");
      await stream.send(op("set", { package: "p", data: { v: 1 } }));
      expect((await stream.send(op("commit"))).result.case).to.equal("commit");
      await stream.end();
    } finally {
      raw.close();
    }
    expect(await client(tlsOnly.address, undefined, "ops-token").session("Cart", "tls-4").get("p")).to.deep.equal({ v: 1 });
    const health = connectHealth(tlsOnly.address.replace("127.0.0.1", "localhost"), credentials.createSsl(ca.pem));
    try {
      expect(await health.check(), "health is open to anonymous callers").to.equal("SERVING");
    } finally {
      health.close();
    }
  });
});
