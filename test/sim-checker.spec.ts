import { expect } from "chai";
import { checkHistory } from "../sim/checker.js";
import type { Fault, History, Op, Outcome } from "../sim/history.js";
import type { OpFields } from "../sim/workload.js";

// A hand-made history: ops in the order written, each over [from, to] ms on instance i0 unless said.
function history(...items: Array<Op | Fault>): History {
  const ops = items.filter((x): x is Op => "index" in x);
  ops.forEach((op, i) => {
    op.index = i;
  });
  return { ops, faults: items.filter((x): x is Fault => !("index" in x)) };
}

function op(fields: Partial<OpFields> & { kind: Op["kind"] }, from: number, to: number, outcome: Outcome = "ok"): Op {
  return { instance: "i0", namespace: "n", ...fields, index: -1, invokedMs: from, completedMs: to, outcome } as Op;
}

const create = (session: string, from: number, to: number, principal?: string) =>
  op({ kind: "create", session, ...(principal ? { principal } : {}) }, from, to);
const append = (
  session: string,
  element: number,
  read: number[] | undefined,
  from: number,
  to: number,
  outcome: Outcome = "ok",
) => op({ kind: "append", session, element, ...(read ? { read } : {}) }, from, to, outcome);
const read = (session: string, list: number[], from: number, to: number) => op({ kind: "read", session, list }, from, to);
const invalidate = (from: number, to: number, outcome: Outcome = "ok") => op({ kind: "invalidate" }, from, to, outcome);
const revoke = (principal: string, from: number, to: number) => op({ kind: "revoke", principal }, from, to);
const list = (sessions: string[], from: number, to: number) => op({ kind: "list", sessions }, from, to);
const listPrincipal = (principal: string, sessions: string[], from: number, to: number) =>
  op({ kind: "list-principal", principal, sessions }, from, to);
const restart = (sessions: string[] | undefined, startMs: number, endMs: number): Fault => ({
  kind: "node-restart-empty",
  target: "m1",
  startMs,
  endMs,
  ...(sessions ? { sessions } : {}),
});

const rules = (h: History) => checkHistory(h).map((v) => v.rule);

describe("the simulation's history checker", () => {
  it("accepts a history where every read is a prefix of the appends' order and listings are complete", () => {
    const h = history(
      create("s1", 0, 5, "p"),
      append("s1", 1, [], 10, 20),
      append("s1", 2, [1], 30, 40),
      append("s1", 3, undefined, 35, 45, "fail"),
      read("s1", [1], 12, 50), // concurrent with the second append: either state is fine
      read("s1", [1, 2], 60, 70),
      list(["s1"], 80, 90),
      listPrincipal("p", ["s1"], 80, 90),
    );
    expect(checkHistory(h)).to.deep.equal([]);
  });

  it("catches an element read twice", () => {
    expect(rules(history(create("s1", 0, 5), append("s1", 1, [], 10, 20), read("s1", [1, 1], 30, 40)))).to.include("duplicate");
  });

  it("catches an element of a failed append that is read", () => {
    const h = history(create("s1", 0, 5), append("s1", 1, undefined, 10, 20, "fail"), read("s1", [1], 30, 40));
    expect(rules(h)).to.deep.equal(["failed-read"]);
  });

  it("catches an element appended to another session", () => {
    const h = history(create("s1", 0, 5), create("s2", 0, 5), append("s1", 1, [], 10, 20), read("s2", [1], 30, 40));
    expect(rules(h)).to.include("foreign");
  });

  it("catches an acknowledged element missing from a later read, naming the append and the read", () => {
    const h = history(create("s1", 0, 5), append("s1", 1, [], 10, 20), read("s1", [], 30, 40));
    const [violation] = checkHistory(h);
    expect(violation?.rule).to.equal("lost");
    expect(violation?.ops.map((o) => o.index)).to.deep.equal([1, 2]);
  });

  it("accepts that loss when an InvalidateAll ran in between, or the session's node restarted empty", () => {
    const lost = [create("s1", 0, 5), append("s1", 1, [], 10, 20), read("s1", [], 30, 40)];
    expect(rules(history(...lost, invalidate(22, 28)))).to.deep.equal([]);
    expect(rules(history(...lost, restart(["n/s1"], 21, 25)))).to.deep.equal([]);
    expect(rules(history(...lost, restart(["n/s9"], 21, 25)))).to.deep.equal(["lost"]);
  });

  it("keeps a write sent after an InvalidateAll answered: its loss is not excused", () => {
    const h = history(create("s1", 0, 5), invalidate(10, 20), append("s1", 1, [], 30, 40), read("s1", [], 50, 60));
    expect(rules(h)).to.deep.equal(["lost"]);
  });

  it("catches an element of an unknown append that was read once and then vanished", () => {
    const h = history(
      create("s1", 0, 5),
      append("s1", 1, undefined, 10, 20, "unknown"),
      read("s1", [1], 30, 40),
      read("s1", [], 50, 60),
    );
    expect(rules(h)).to.deep.equal(["lost"]);
    expect(
      rules(history(create("s1", 0, 5), append("s1", 1, undefined, 10, 20, "unknown"), read("s1", [], 30, 40))),
    ).to.deep.equal([]);
  });

  it("catches two concurrent reads that disagree on the order of the appends", () => {
    const h = history(
      create("s1", 0, 5),
      append("s1", 1, undefined, 10, 20, "unknown"),
      append("s1", 2, undefined, 10, 20, "unknown"),
      read("s1", [1, 2], 30, 40),
      read("s1", [2, 1], 35, 45),
    );
    expect(rules(h)).to.deep.equal(["order"]);
  });

  it("catches a read after an answered InvalidateAll that still shows an element appended before it", () => {
    const before = [create("s1", 0, 5), append("s1", 1, [], 10, 20), invalidate(30, 40)];
    expect(rules(history(...before, read("s1", [1], 50, 60)))).to.deep.equal(["read-after-invalidate"]);
    expect(rules(history(...before, read("s1", [], 50, 60)))).to.deep.equal([]);
    // A read that started before the answer may still see the old generation.
    expect(rules(history(...before, read("s1", [1], 35, 60)))).to.deep.equal([]);
  });

  it("names the session's writes that raced the InvalidateAll, such as a rotation that carried old data over", () => {
    const rotate = op({ kind: "rotate", session: "s1" }, 35, 50);
    const h = history(create("s1", 0, 5), append("s1", 1, [], 10, 20), invalidate(30, 40), rotate, read("s1", [1], 60, 70));
    const [violation] = checkHistory(h);
    expect(violation?.rule).to.equal("read-after-invalidate");
    expect(violation?.ops.map((o) => o.kind)).to.deep.equal(["append", "invalidate", "rotate", "read"]);
  });

  it("catches a read after an answered revocation of the session's principal that still shows its data", () => {
    const bound = (principal: string) => [create("s1", 0, 5, principal), append("s1", 1, [], 10, 20), revoke("p", 30, 40)];
    expect(rules(history(...bound("p"), read("s1", [1], 50, 60)))).to.deep.equal(["read-after-revoke"]);
    expect(rules(history(...bound("q"), read("s1", [1], 50, 60)))).to.deep.equal([]);
  });

  it("catches a listing that misses a live session, unless a node fault may have dropped its entry", () => {
    const h = (...extra: Array<Op | Fault>) => history(create("s1", 0, 5), create("s2", 0, 5), list(["s2"], 10, 20), ...extra);
    expect(rules(h())).to.deep.equal(["unlisted"]);
    expect(rules(h({ kind: "node-freeze", target: "m0", startMs: 2, endMs: 8 }))).to.deep.equal([]);
  });

  it("does not expect a listing to show a session whose rotation had no answer (its new id is unknown)", () => {
    const rotate = op({ kind: "rotate", session: "s1" }, 10, 20, "unknown");
    expect(rules(history(create("s1", 0, 5), rotate, list([], 30, 40)))).to.deep.equal([]);
  });

  it("catches a listing that shows a session invalidated before it was sent, unless written again since", () => {
    const before = [create("s1", 0, 5), invalidate(10, 20)];
    expect(rules(history(...before, list(["s1"], 30, 40)))).to.deep.equal(["listed-removed"]);
    expect(rules(history(...before, append("s1", 1, [], 22, 25), list(["s1"], 30, 40)))).to.deep.equal([]);
  });

  it("catches a principal's listing that misses a bound session or shows a revoked one", () => {
    expect(rules(history(create("s1", 0, 5, "p"), listPrincipal("p", [], 10, 20)))).to.deep.equal(["unlisted"]);
    expect(rules(history(create("s1", 0, 5, "p"), revoke("p", 10, 20), listPrincipal("p", ["s1"], 30, 40)))).to.deep.equal([
      "listed-removed",
    ]);
    expect(rules(history(create("s1", 0, 5, "p"), revoke("p", 10, 20), listPrincipal("p", [], 30, 40)))).to.deep.equal([]);
  });

  it("does not expect a principal's listing to show a session whose binding raced another binding", () => {
    const unbind = op({ kind: "bind", session: "s1", principal: "" }, 10, 40);
    const bind = op({ kind: "bind", session: "s1", principal: "p" }, 15, 20);
    expect(rules(history(create("s1", 0, 5), unbind, bind, listPrincipal("p", [], 50, 60)))).to.deep.equal([]);
    // Once the unbinding answered before the binding was sent, the binding is the last word.
    const before = op({ kind: "bind", session: "s1", principal: "" }, 10, 12);
    expect(rules(history(create("s1", 0, 5), before, bind, listPrincipal("p", [], 50, 60)))).to.deep.equal(["unlisted"]);
  });

  it("orders violations with the shortest explanation first", () => {
    const h = history(
      create("s1", 0, 5),
      append("s1", 1, undefined, 10, 20, "unknown"),
      read("s1", [1], 30, 40),
      read("s1", [], 50, 60),
      read("s1", [2, 2], 70, 80),
    );
    const lengths = checkHistory(h).map((v) => v.ops.length);
    expect(lengths[0]).to.equal(1);
    expect(lengths).to.deep.equal([...lengths].sort((a, b) => a - b));
  });
});
