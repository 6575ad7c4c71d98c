// Transactions with the SDK against a real memcached: retried on conflicts so that no update is lost,
// pipelined ops whose errors still reach the caller, and the lower-level begin/commit.
import { expect } from "chai";
import { ClientError, ConflictError, status } from "../client/index.js";
import { useSessiond } from "./helpers/fixture.js";

const ns = "SdkTransactions";

describe("SDK transactions", function () {
  this.timeout(20_000);
  const env = useSessiond();

  beforeEach(() => env.client.invalidateAll(ns));

  it("ends N concurrent read-modify-write transactions on one key at exactly N x k", async () => {
    const workers = 8;
    const incrementsEach = 5;
    let runs = 0;
    const increment = () =>
      env.client.transaction(
        ns,
        "counter",
        async (tx) => {
          runs++;
          const { n = 0 } = await tx.get("stats", ["n"]);
          tx.set("stats", { n: (n as number) + 1 });
        },
        { attempts: 200 },
      );
    await Promise.all(
      Array.from({ length: workers }, async () => {
        for (let i = 0; i < incrementsEach; i++) await increment();
      }),
    );
    expect(await env.client.session(ns, "counter").get("stats")).to.deep.equal({ n: workers * incrementsEach });
    expect(runs).to.be.at.least(workers * incrementsEach);
  });

  it("runs the function again after a conflict, and the second run sees the other writer's data", async () => {
    const session = env.client.session(ns, "conflicted");
    const seen: unknown[] = [];
    const result = await session.transaction(async (tx) => {
      const cart = await tx.get("cart");
      seen.push(cart);
      // Another writer commits between this transaction's read and its commit, once.
      if (seen.length === 1) await session.set("cart", { apples: 1 });
      await tx.set("cart", { pears: 2 });
      return "done";
    });
    expect(result).to.equal("done");
    expect(seen).to.deep.equal([{}, { apples: 1 }]);
    expect(await session.get("cart")).to.deep.equal({ apples: 1, pears: 2 });
  });

  it("throws a ConflictError once its attempts are used up, having written nothing", async () => {
    const session = env.client.session(ns, "contended");
    let runs = 0;
    const failure = await session
      .transaction(
        async (tx) => {
          runs++;
          await tx.get("cart");
          await session.set("cart", { other: runs });
          tx.set("cart", { mine: true });
        },
        { attempts: 3 },
      )
      .catch((err: unknown) => err);
    expect(failure).to.be.instanceOf(ConflictError);
    expect(failure).to.be.instanceOf(ClientError);
    expect((failure as ConflictError).code).to.equal(status.ABORTED);
    expect((failure as ConflictError).attempts).to.equal(3);
    expect(runs).to.equal(3);
    expect(await session.get("cart")).to.deep.equal({ other: 3 });
  });

  it("keeps the answers of many concurrent transactions of one client apart", async () => {
    const ids = Array.from({ length: 25 }, (_, i) => `user-${i}`);
    await Promise.all(ids.map((id) => env.client.session(ns, id).set("profile", { name: id })));
    const read = await Promise.all(
      ids.map((id) =>
        env.client.transaction(ns, id, async (tx) => {
          const before = await tx.get("profile");
          tx.set("profile", { visits: id.length });
          const after = await tx.get("profile");
          return { before, after };
        }),
      ),
    );
    read.forEach(({ before, after }, i) => {
      expect(before).to.deep.equal({ name: ids[i] });
      expect(after).to.deep.equal({ name: ids[i], visits: ids[i]!.length });
    });
  });

  it("aborts and rethrows when the function throws, leaving storage untouched", async () => {
    const boom = new Error("payment declined");
    const failure = await env.client
      .transaction(ns, "aborted", async (tx) => {
        await tx.set("order", { state: "paid" });
        throw boom;
      })
      .catch((err: unknown) => err);
    expect(failure).to.equal(boom);
    expect(await env.client.session(ns, "aborted").get("order")).to.deep.equal({});
    expect(env.sessiond.server.registry.openTransactions).to.equal(0);
  });

  it("does not commit when a pipelined set failed, even if nobody awaited it", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const failure = await env.client
        .transaction(ns, "doomed", (tx) => {
          tx.set("order", { state: "paid" });
          tx.set("", { bad: "an empty package name is invalid" });
          tx.set("order", { shipped: true });
        })
        .catch((err: unknown) => err);
      expect(failure).to.be.instanceOf(ClientError);
      expect((failure as ClientError).code).to.equal(status.INVALID_ARGUMENT);
      expect((failure as ClientError).details).to.match(/^set: /);
      expect(await env.client.session(ns, "doomed").get("order")).to.deep.equal({});
      // The failed op nobody awaited reached commit, and did not escape as an unhandled rejection.
      expect(unhandled).to.deep.equal([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("lets callers of begin commit themselves, and reports a conflict there as ConflictError", async () => {
    const tx = env.client.begin(ns, "manual");
    expect(await tx.transactionId())
      .to.be.a("string")
      .and.not.equal("");
    expect(await tx.get("basket")).to.deep.equal({});
    await env.client.session(ns, "manual").set("basket", { eggs: 6 });
    tx.set("basket", { milk: 1 });
    const conflict = await tx.commit().catch((err: unknown) => err);
    expect(conflict).to.be.instanceOf(ConflictError);
    expect((conflict as ConflictError).attempts).to.equal(1);

    const again = env.client.begin(ns, "manual");
    const basket = await again.get("basket");
    await again.set("basket", { eggs: (basket.eggs as number) - 1, milk: 1 });
    await again.commit();
    expect(await env.client.session(ns, "manual").get("basket")).to.deep.equal({ eggs: 5, milk: 1 });
    const late = await again.get("basket").catch((err: unknown) => err);
    expect((late as ClientError).code).to.equal(status.FAILED_PRECONDITION);
  });

  it("discards a transaction from begin that is aborted", async () => {
    const tx = env.client.begin(ns, "manual-abort");
    tx.set("basket", { eggs: 12 });
    const savepoint = await tx.savepoint();
    tx.delete("basket", ["eggs"]);
    await savepoint.rollback();
    expect(await tx.get("basket")).to.deep.equal({ eggs: 12 });
    await tx.abort();
    expect(await env.client.session(ns, "manual-abort").get("basket")).to.deep.equal({});
  });
});
