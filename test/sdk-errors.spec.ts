// Errors, cancellation and deadlines with the SDK: every failure is a ClientError with the right gRPC code
// and method, and a cancelled transaction leaves nothing behind on the server.
import { expect } from "chai";
import { ClientError, createSessionClient, status } from "../client/index.js";
import { useSessiond } from "./helpers/fixture.js";
import { type MemcachedProcess, startMemcached } from "./helpers/memcached.js";
import { type RunningSessiond, startSessiond } from "./helpers/sessiond.js";
import { eventually, sleep } from "./helpers/wait.js";

const ns = "SdkErrors";

function caught(promise: Promise<unknown>): Promise<ClientError> {
  return promise.then(
    () => expect.fail("expected the call to fail"),
    (err: unknown) => {
      expect(err).to.be.instanceOf(ClientError);
      return err as ClientError;
    },
  );
}

describe("SDK errors, cancellation and deadlines", function () {
  this.timeout(20_000);
  const env = useSessiond();

  beforeEach(() => env.client.invalidateAll(ns));

  it("gives a one-shot call's error its gRPC code, the server's details and the method path", async () => {
    const err = await caught(env.client.session(ns, "u1").set("", { info: "x" }));
    expect(err.code).to.equal(status.INVALID_ARGUMENT);
    expect(err.method).to.equal("/sessiond.v1.SessionService/Set");
    expect(err.details).to.match(/package/);
    expect(err.message).to.equal(`/sessiond.v1.SessionService/Set INVALID_ARGUMENT: ${err.details}`);
  });

  it("reports why begin failed, rather than the ops that followed it", async () => {
    const err = await caught(env.client.transaction("no spaces allowed", "u1", (tx) => tx.get("cart")));
    expect(err.code).to.equal(status.INVALID_ARGUMENT);
    expect(err.method).to.equal("/sessiond.v1.SessionService/Transaction");
    expect(err.details).to.match(/^begin: .*namespace/);
  });

  it("answers NOT_FOUND for a savepoint invalidated by a rollback to an earlier one, and writes nothing", async () => {
    const err = await caught(
      env.client.transaction(ns, "u1", async (tx) => {
        const first = await tx.savepoint();
        tx.set("cart", { apples: 1 });
        const second = await tx.savepoint();
        await first.rollback();
        await second.rollback();
      }),
    );
    expect(err.code).to.equal(status.NOT_FOUND);
    expect(await env.client.session(ns, "u1").get("cart")).to.deep.equal({});
  });

  it("ends a transaction whose signal fires: the stream is cancelled and the server discards it", async () => {
    const controller = new AbortController();
    const err = await caught(
      env.client.transaction(
        ns,
        "u1",
        async (tx) => {
          await tx.set("cart", { apples: 3 });
          expect(env.sessiond.server.registry.openTransactions).to.equal(1);
          controller.abort(new Error("the user went away"));
          await tx.get("cart");
        },
        { signal: controller.signal },
      ),
    );
    expect(err.code).to.equal(status.CANCELLED);
    expect((err.cause as Error).message).to.equal("the user went away");
    // The server learns of the cancel asynchronously.
    await eventually("the server to discard the transaction", () => env.sessiond.server.registry.openTransactions === 0);
    expect(await env.client.session(ns, "u1").get("cart")).to.deep.equal({});
  });

  it("does not start a call whose signal has already fired", async () => {
    const signal = AbortSignal.abort();
    expect((await caught(env.client.session(ns, "u1").get("cart", [], { signal }))).code).to.equal(status.CANCELLED);
    let ran = false;
    const err = await caught(
      env.client.transaction(
        ns,
        "u1",
        () => {
          ran = true;
        },
        { signal },
      ),
    );
    expect(err.code).to.equal(status.CANCELLED);
    expect(ran).to.equal(false, "the function must not run after the signal fired");
  });

  it("does not start calls whose deadline has passed: DEADLINE_EXCEEDED, nothing written", async () => {
    const deadline = new Date(Date.now() - 1);
    expect((await caught(env.client.session(ns, "u1").set("cart", { a: 1 }, { deadline }))).code).to.equal(
      status.DEADLINE_EXCEEDED,
    );
    let ran = false;
    const err = await caught(
      env.client.transaction(
        ns,
        "u1",
        (tx) => {
          ran = true;
          return tx.set("cart", { a: 1 });
        },
        { deadline },
      ),
    );
    expect(err.code).to.equal(status.DEADLINE_EXCEEDED);
    expect(ran).to.equal(false, "the function must not run after the deadline");
    expect(await env.client.session(ns, "u1").get("cart")).to.deep.equal({});
  });

  it("ends a transaction whose deadline passes while it runs, and the server discards it", async () => {
    const err = await caught(
      env.client.transaction(
        ns,
        "u1",
        async (tx) => {
          await tx.set("cart", { pears: 2 });
          // The function dawdles past its deadline; the next op finds the stream ended.
          await sleep(300);
          await tx.get("cart");
        },
        { timeoutMs: 100 },
      ),
    );
    expect(err.code).to.equal(status.DEADLINE_EXCEEDED);
    // The server learns of the cancel asynchronously.
    await eventually("the server to discard the transaction", () => env.sessiond.server.registry.openTransactions === 0);
    expect(await env.client.session(ns, "u1").get("cart")).to.deep.equal({});
  });

  describe("while memcached is down", () => {
    let lonely: MemcachedProcess;
    let lonelySessiond: RunningSessiond;

    beforeEach(async () => {
      lonely = await startMemcached();
      lonelySessiond = await startSessiond({ memcached: [lonely.address] });
    });
    afterEach(async () => {
      await lonelySessiond?.stop();
      await lonely?.stop();
    });

    it("answers UNAVAILABLE when retries are off", async () => {
      const noRetry = createSessionClient(lonelySessiond.address, { retry: { attempts: 1 } });
      try {
        await lonely.stop();
        const err = await caught(noRetry.session(ns, "u1").get("cart"));
        expect(err.code).to.equal(status.UNAVAILABLE);
        expect(err.method).to.equal("/sessiond.v1.SessionService/Get");
      } finally {
        noRetry.close();
      }
    });

    it("retries a one-shot call on UNAVAILABLE until memcached is back", async () => {
      const patient = createSessionClient(lonelySessiond.address, { retry: { attempts: 1000, baseDelayMs: 5, maxDelayMs: 20 } });
      try {
        await lonely.stop();
        const written = patient.session(ns, "u1").set("cart", { apples: 5 });
        await lonely.restart();
        await written;
        expect(await patient.session(ns, "u1").get("cart")).to.deep.equal({ apples: 5 });
      } finally {
        patient.close();
      }
    });
  });
});
