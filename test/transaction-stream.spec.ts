// A transaction lives inside its stream: whatever ends the stream before commit discards it.

import { status } from "@grpc/grpc-js";
import { expect } from "chai";
import { useSessiond } from "./helpers/fixture.js";
import { op, TransactionStreamDriver } from "./helpers/sessiond.js";
import { eventually } from "./helpers/wait.js";

const ns = "Streams";

describe("transaction streams", function () {
  this.timeout(20_000);
  const env = useSessiond();
  const read = (sessionId: string) => env.sessiond.call("get", { namespace: ns, sessionId, package: "p" }).then((r) => r.data);
  const openTransactions = () => env.sessiond.server.registry.openTransactions;
  const discarded = () => eventually("the server to discard the open transaction", () => openTransactions() === 0);

  it("discards an open transaction when the client ends the stream without commit", async () => {
    const tx = env.sessiond.stream();
    await tx.send(op("begin", { namespace: ns, sessionId: "ended" }));
    await tx.send(op("set", { package: "p", data: { lost: true } }));
    expect(openTransactions()).to.equal(1);
    expect((await tx.end()).code).to.equal(status.OK);
    await discarded();
    expect(openTransactions()).to.equal(0);
    expect(await read("ended")).to.deep.equal({});
  });

  it("discards an open transaction when the client cancels the stream", async () => {
    const tx = env.sessiond.stream();
    await tx.send(op("begin", { namespace: ns, sessionId: "cancelled" }));
    await tx.send(op("set", { package: "p", data: { lost: true } }));
    tx.call.cancel();
    expect((await tx.ended).code).to.equal(status.CANCELLED);
    await discarded();
    expect(openTransactions()).to.equal(0);
    expect(await read("cancelled")).to.deep.equal({});
  });

  it("discards an open transaction when the stream's deadline passes", async () => {
    const { Metadata, credentials, makeGenericClientConstructor } = await import("@grpc/grpc-js");
    const { createServiceDefinition } = await import("../rpc/service-definition.js");
    const { SessionService } = await import("../gen/sessiond/v1/session_service_pb.js");
    const Client = makeGenericClientConstructor(createServiceDefinition(SessionService), "SessionService");
    const client = new Client(env.sessiond.address, credentials.createInsecure()) as never as {
      transaction(metadata: InstanceType<typeof Metadata>, options: { deadline: number }): never;
      close(): void;
    };
    try {
      const tx = new TransactionStreamDriver(client.transaction(new Metadata(), { deadline: Date.now() + 300 }));
      await tx.send(op("begin", { namespace: ns, sessionId: "deadline" }));
      await tx.send(op("set", { package: "p", data: { lost: true } }));
      expect((await tx.ended).code).to.equal(status.DEADLINE_EXCEEDED);
      await discarded();
      expect(openTransactions()).to.equal(0);
      expect(await read("deadline")).to.deep.equal({});
    } finally {
      client.close();
    }
  });

  it("runs several transactions one after another on one stream", async () => {
    const tx = env.sessiond.stream();
    for (let i = 1; i <= 3; i++) {
      await tx.send(op("begin", { namespace: ns, sessionId: "serial" }));
      await tx.send(op("set", { package: "p", data: { round: i } }));
      expect((await tx.send(op("commit"))).result.case).to.equal("commit");
    }
    await tx.send(op("begin", { namespace: ns, sessionId: "serial" }));
    await tx.send(op("set", { package: "p", data: { round: 99 } }));
    expect((await tx.send(op("abort"))).result.case).to.equal("abort");
    await tx.end();
    expect(await read("serial")).to.deep.equal({ round: 3 });
  });

  it("restores each savepoint's own state, however often it is rolled back to", async () => {
    const tx = env.sessiond.stream();
    const data = async () => ((await tx.send(op("get", { package: "p" }))).result.value as { data: unknown }).data;
    const savepoint = async () => ((await tx.send(op("savepoint"))).result.value as { savepointId: number }).savepointId;
    await tx.send(op("begin", { namespace: ns, sessionId: "layers" }));
    await tx.send(op("set", { package: "p", data: { a: 1 } }));
    const first = await savepoint();
    await tx.send(op("set", { package: "p", data: { a: 2 } }));
    const second = await savepoint();
    await tx.send(op("delete", { package: "p", keys: ["a"] }));
    await tx.send(op("set", { package: "p", data: { b: 1 } }));
    expect(await data()).to.deep.equal({ b: 1 });
    await tx.send(op("rollback", { savepointId: second }));
    expect(await data()).to.deep.equal({ a: 2 });
    await tx.send(op("set", { package: "p", data: { c: 3 } }));
    await tx.send(op("rollback", { savepointId: second }));
    expect(await data()).to.deep.equal({ a: 2 });
    await tx.send(op("rollback", { savepointId: first }));
    expect(await data()).to.deep.equal({ a: 1 });
    expect((await tx.send(op("commit"))).result.case).to.equal("commit");
    await tx.end();
    expect(await read("layers")).to.deep.equal({ a: 1 });
  });

  it("answers pipelined requests in order, one response each", async () => {
    const tx = env.sessiond.stream();
    const answers = await Promise.all([
      tx.send(op("begin", { namespace: ns, sessionId: "pipelined" })),
      tx.send(op("get", { package: "p" })),
      tx.send(op("set", { package: "p", data: { a: 1 } })),
      tx.send(op("savepoint")),
      tx.send(op("set", { package: "p", data: { a: 2 } })),
      tx.send(op("get", { package: "p" })),
      tx.send(op("commit")),
    ]);
    expect(answers.map((a) => a.result.case)).to.deep.equal(["begin", "get", "set", "savepoint", "set", "get", "commit"]);
    expect((answers[5]!.result.value as { data: unknown }).data).to.deep.equal({ a: 2 });
    await tx.end();
    expect(await read("pipelined")).to.deep.equal({ a: 2 });
  });

  it("refuses a pipelined commit with only_if_no_errors when an op before it failed, writing nothing", async () => {
    const tx = env.sessiond.stream();
    const answers = await Promise.all([
      tx.send(op("begin", { namespace: ns, sessionId: "doomed" })),
      tx.send(op("set", { package: "p", data: { good: 1 } })),
      tx.send(op("set", { package: "", data: { bad: 1 } })),
      tx.send(op("commit", { onlyIfNoErrors: true })),
    ]);
    expect(answers[2]!.error?.code).to.equal(status.INVALID_ARGUMENT);
    expect(answers[3]!.error?.code).to.equal(status.FAILED_PRECONDITION);
    expect(answers[3]!.error?.message).to.match(/an op of this transaction failed \(set: package name is empty/);
    // The transaction is gone: the stream may begin again.
    expect((await tx.send(op("begin", { namespace: ns, sessionId: "doomed" }))).result.case).to.equal("begin");
    await tx.end();
    expect(await read("doomed")).to.deep.equal({});
  });

  it("commits the ops that succeeded when the caller saw the failure and commits anyway", async () => {
    const tx = env.sessiond.stream();
    await tx.send(op("begin", { namespace: ns, sessionId: "carried-on" }));
    await tx.send(op("set", { package: "p", data: { good: 1 } }));
    expect((await tx.send(op("set", { package: "", data: { bad: 1 } }))).error?.code).to.equal(status.INVALID_ARGUMENT);
    expect((await tx.send(op("commit"))).result.case).to.equal("commit");
    await tx.end();
    expect(await read("carried-on")).to.deep.equal({ good: 1 });
  });

  it("refuses a commit with ABORTED when another writer committed first, writing nothing", async () => {
    const first = env.sessiond.stream();
    await first.send(op("begin", { namespace: ns, sessionId: "contested" }));
    await first.send(op("set", { package: "p", data: { by: "first" } }));
    await env.sessiond.call("set", { namespace: ns, sessionId: "contested", package: "p", data: { by: "unary" } });
    const commit = await first.send(op("commit"));
    expect(commit.error?.code).to.equal(status.ABORTED);
    expect(commit.error?.message).to.match(/changed since this transaction began/);
    // The transaction is over; the stream is not.
    expect((await first.send(op("get", { package: "p" }))).error?.code).to.equal(status.FAILED_PRECONDITION);
    await first.end();
    expect(await read("contested")).to.deep.equal({ by: "unary" });
  });

  it("refuses a commit with ABORTED when the session was deleted meanwhile", async () => {
    await env.sessiond.call("set", { namespace: ns, sessionId: "vanishing", package: "p", data: { v: 1 } });
    const tx = env.sessiond.stream();
    await tx.send(op("begin", { namespace: ns, sessionId: "vanishing" }));
    await tx.send(op("set", { package: "p", data: { v: 2 } }));
    await env.sessiond.call("delete", { namespace: ns, sessionId: "vanishing" });
    expect((await tx.send(op("commit"))).error?.code).to.equal(status.ABORTED);
    await tx.end();
    expect(await read("vanishing")).to.deep.equal({});
  });

  it("deletes a whole session in a transaction, and may write it anew in the same one", async () => {
    await env.sessiond.call("set", { namespace: ns, sessionId: "reborn", package: "old", data: { v: 1 } });
    const tx = env.sessiond.stream();
    await tx.send(op("begin", { namespace: ns, sessionId: "reborn" }));
    await tx.send(op("delete", {}));
    expect((await tx.send(op("get", { package: "old" }))).result.value).to.deep.include({ data: {} });
    await tx.send(op("set", { package: "new", data: { v: 2 } }));
    expect((await tx.send(op("commit"))).result.case).to.equal("commit");
    await tx.end();
    expect((await env.sessiond.call("get", { namespace: ns, sessionId: "reborn", package: "old" })).data).to.deep.equal({});
    expect((await env.sessiond.call("get", { namespace: ns, sessionId: "reborn", package: "new" })).data).to.deep.equal({ v: 2 });
  });
});
