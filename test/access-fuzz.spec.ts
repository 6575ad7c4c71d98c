// Property-based tests (fast-check) against a real sessiond over a real memcached, with access rules on:
// random and malformed requests, and random op sequences on Transaction streams for callers with and
// without permissions. The server never crashes, every answer is a documented status code, no refused call
// changes stored data, and a model of the transaction semantics agrees with the server on every op.

import type { JsonObject } from "@bufbuild/protobuf";
import { type Client, credentials, Metadata, makeGenericClientConstructor, type ServiceError, status } from "@grpc/grpc-js";
import { expect } from "chai";
import fc from "fast-check";
import { SessionService } from "../gen/sessiond/v1/session_service_pb.js";
import { createAccessControl } from "../server/access/access-control.js";
import { parseAccess } from "../server/access/access-rules.js";
import { parseTokens } from "../server/access/tokens.js";
import { bearer, captureLogger, connectRaw, type RawSessionClient, sha256hex } from "./helpers/access.js";
import { connectHealth } from "./helpers/access-health.js";
import { data, keys, modelOp, NS, pkg, toRequest } from "./helpers/fuzz-arbitraries.js";
import { type MemcachedProcess, startMemcached } from "./helpers/memcached.js";
import { op, type RunningSessiond, startSessiond } from "./helpers/sessiond.js";
import { TransactionModel } from "./helpers/transaction-model.js";

// Bounds: together about 10-20 s on the 2-core CI machine.
const SEQUENCES = 150;
const MAX_OPS = 40;
const UNARY_CASES = 300;
const MALFORMED_CASES = 200;

/** The callers: a token with read and write on Fuzz, one with read only, one with no rule, none, a wrong one. */
const CALLERS = {
  writer: { token: "writer-token", read: true, write: true },
  reader: { token: "reader-token", read: true, write: false },
  stranger: { token: "stranger-token", read: false, write: false },
  anonymous: { token: undefined, read: false, write: false },
  forger: { token: "forged-token", read: false, write: false },
} as const;
type CallerName = keyof typeof CALLERS;

// Codes the contract documents for calls and ops (INTERNAL only for bytes that are not a protobuf message).
const DOCUMENTED = new Set<number>([
  status.OK,
  status.INVALID_ARGUMENT,
  status.NOT_FOUND,
  status.PERMISSION_DENIED,
  status.RESOURCE_EXHAUSTED,
  status.FAILED_PRECONDITION,
  status.ABORTED,
  status.UNAUTHENTICATED,
]);

describe("fuzzing with access rules (fast-check)", function () {
  this.timeout(120_000);
  let memcached: MemcachedProcess;
  let sessiond: RunningSessiond;
  let raw: RawSessionClient;
  let sessionCount = 0;

  before(async () => {
    memcached = await startMemcached();
    const access = createAccessControl(
      {
        tokens: parseTokens(
          [
            { identity: "writer", sha256: sha256hex("writer-token") },
            { identity: "reader", sha256: sha256hex("reader-token") },
            { identity: "stranger", sha256: sha256hex("stranger-token") },
            { identity: "ops", sha256: sha256hex("ops-token") },
          ],
          "fuzz",
        ),
        access: parseAccess(
          [
            { identity: "writer", namespaces: [NS], allow: ["read", "write"] },
            { identity: "reader", namespaces: [NS], allow: ["read"] },
            { identity: "ops", namespaces: ["*"], allow: ["read"] },
          ],
          "fuzz",
        ),
      },
      captureLogger("silent").logger,
    );
    sessiond = await startSessiond({ memcached: [memcached.address], security: { access } });
    raw = connectRaw(sessiond.address);
  });
  after(async () => {
    raw?.close();
    await sessiond?.stop();
    await memcached?.stop();
  });

  // stored reads packages a and b of a session as the read-only "ops" identity (the model's `stored`).
  async function stored(namespace: string, sessionId: string): Promise<Record<string, JsonObject>> {
    const result: Record<string, JsonObject> = {};
    for (const p of ["a", "b"]) {
      const { data } = await raw.call("get", { namespace, sessionId, package: p }, bearer("ops-token"));
      if (Object.keys(data ?? {}).length > 0) result[p] = data as JsonObject;
    }
    return result;
  }

  it(`agrees with the transaction model on ${SEQUENCES} random op sequences of up to ${MAX_OPS} ops, for every kind of caller`, async () => {
    let longest = 0;
    let opsRun = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...(Object.keys(CALLERS) as CallerName[])),
        fc.array(modelOp, { minLength: 1, maxLength: MAX_OPS, size: "max" }),
        async (callerName, ops) => {
          const caller = CALLERS[callerName];
          const sessionId = `fuzz-${++sessionCount}`;
          const model = new TransactionModel((permission, namespace) => namespace === NS && caller[permission]);
          const stream = raw.stream(bearer(caller.token));
          longest = Math.max(longest, ops.length);
          if (callerName === "forger") {
            expect((await stream.ended).code).to.equal(status.UNAUTHENTICATED);
            return;
          }
          for (const o of ops) {
            opsRun++;
            const request = o.kind === "begin" ? op("begin", { namespace: o.namespace, sessionId }) : toRequest(o);
            const response = await stream.send(request);
            const expected = model.apply(o);
            const code = response.error?.code ?? status.OK;
            expect(DOCUMENTED.has(code), `documented code for ${o.kind}: ${code}`).to.equal(true);
            expect(code, `${o.kind} ${JSON.stringify(o)}: ${response.error?.message}`).to.equal(expected.code);
            if (o.kind === "get" && code === status.OK) expect(response.result.value).to.deep.include({ data: expected.data });
            if (o.kind === "savepoint" && code === status.OK) expect(response.result.value).to.deep.include(expected.data!);
          }
          expect((await stream.end()).code).to.equal(status.OK);
          // An empty package reads as an absent one.
          const committed = Object.fromEntries(Object.entries(model.stored).filter(([, v]) => Object.keys(v).length > 0));
          expect(await stored(NS, sessionId), "storage holds what the model committed").to.deep.equal(committed);
        },
      ),
      {
        numRuns: SEQUENCES,
        // Cases worth trying on every run, besides the random ones.
        examples: [
          [
            "reader",
            [
              { kind: "begin", namespace: NS },
              { kind: "set", pkg: "a", data: { x: 1 } },
              { kind: "get", pkg: "a", keys: [] },
              { kind: "commit", onlyIfNoErrors: true },
            ],
          ],
          [
            "writer",
            [
              { kind: "begin", namespace: NS },
              { kind: "set", pkg: "a", data: { x: 1 } },
              { kind: "savepoint" },
              { kind: "set", pkg: "b", data: { y: 2 } },
              { kind: "savepoint" },
              { kind: "rollback", savepointId: 1 },
              { kind: "rollback", savepointId: 2 },
              { kind: "rollback", savepointId: 1 },
              { kind: "commit", onlyIfNoErrors: false },
            ],
          ],
        ],
      },
    );
    expect(longest, "long sequences were tried").to.be.at.least(MAX_OPS - 10);
    expect(opsRun).to.be.above(SEQUENCES * 5);
  });

  it(`answers ${UNARY_CASES} random unary calls with documented codes; refused ones change nothing`, async () => {
    await raw.call("set", { namespace: NS, sessionId: "victim", package: "a", data: { keep: 1 } }, bearer("writer-token"));
    const method = fc.constantFrom("get", "set", "delete", "createSession", "rotateSession", "listSessions", "invalidateAll");
    const namespace = fc.oneof(fc.constantFrom(NS, "Other", ""), fc.string({ maxLength: 140 }));
    const sessionId = fc.oneof(fc.constant("victim"), fc.string({ maxLength: 300, unit: "binary" }));
    const token = fc.oneof(
      fc.constantFrom(...Object.values(CALLERS).map((c) => c.token)),
      fc.string({ maxLength: 20 }).map((t) => `Bearer ${t}`),
      fc.string({ maxLength: 20 }),
    );
    await fc.assert(
      fc.asyncProperty(method, namespace, sessionId, pkg, keys, data, token, async (m, ns, id, p, k, d, t) => {
        const before = await stored(NS, "victim");
        const metadata = new Metadata();
        if (t !== undefined) metadata.set("authorization", t.startsWith("Bearer ") ? t : `Bearer ${t}`);
        // A header value grpc-js itself cannot send is no request at all: skip it.
        if (/[^\x20-\x7e]/.test(String(metadata.get("authorization")[0] ?? ""))) return;
        const request = { namespace: ns, sessionId: id, package: p, keys: k, data: d, pageSize: 3 };
        const code = await raw.call(m, request as never, metadata).then(
          () => status.OK,
          (err: ServiceError) => err.code,
        );
        expect(DOCUMENTED.has(code), `${m} answered ${code}`).to.equal(true);
        if (code === status.PERMISSION_DENIED || code === status.UNAUTHENTICATED) {
          expect(await stored(NS, "victim"), `refused ${m} changed nothing`).to.deep.equal(before);
        }
      }),
      { numRuns: UNARY_CASES },
    );
  });

  it(`survives ${MALFORMED_CASES} requests of random bytes, answering each with a status`, async () => {
    const Bytes = makeGenericClientConstructor(
      Object.fromEntries(
        SessionService.methods
          .filter((m) => m.methodKind === "unary")
          .map((m) => [
            m.localName,
            {
              path: `/${SessionService.typeName}/${m.name}`,
              requestStream: false,
              responseStream: false,
              requestSerialize: (b: Buffer) => b,
              requestDeserialize: (b: Buffer) => b,
              responseSerialize: (b: Buffer) => b,
              responseDeserialize: (b: Buffer) => b,
            },
          ]),
      ),
      "Bytes",
    );
    const client = new Bytes(sessiond.address, credentials.createInsecure()) as Client &
      Record<string, (...args: unknown[]) => unknown>;
    const names = SessionService.methods.filter((m) => m.methodKind === "unary").map((m) => m.localName);
    try {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...names), fc.uint8Array({ maxLength: 64 }), fc.boolean(), async (m, bytes, signed) => {
          const err = await new Promise<ServiceError | null>((resolve) =>
            client[m]!(Buffer.from(bytes), bearer(signed ? "writer-token" : undefined), (e: ServiceError | null) => resolve(e)),
          );
          const code = err?.code ?? status.OK;
          const undecodable = code === status.INTERNAL && /^Error deserializing request/.test(err!.details);
          expect(DOCUMENTED.has(code) || undecodable, `${m} answered ${code} ${err?.details}`).to.equal(true);
        }),
        { numRuns: MALFORMED_CASES },
      );
    } finally {
      client.close();
    }
    const health = connectHealth(sessiond.address);
    try {
      expect(await health.check(), "the server still serves").to.equal("SERVING");
    } finally {
      health.close();
    }
  });
});
