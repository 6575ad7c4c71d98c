// fast-check arbitraries of the fuzz spec: Transaction ops over a few package and key names (valid and
// invalid ones), small JSON values, and their conversion to TransactionRequest ops.
import type { JsonObject } from "@bufbuild/protobuf";
import fc from "fast-check";
import { op } from "./sessiond.js";
import type { ModelOp } from "./transaction-model.js";

/** NS is the namespace the fuzzed callers have rules on. */
export const NS = "Fuzz";

/** value is a small JSON value. */
export const value = fc.oneof(
  fc.integer(),
  fc.string({ maxLength: 8 }),
  fc.boolean(),
  fc.constant(null),
  fc.dictionary(fc.constantFrom("m", "n"), fc.integer(), { maxKeys: 2 }),
);
/** pkg is a package name: mostly valid, sometimes empty or with a control character. */
export const pkg = fc.constantFrom("a", "b", "a", "b", "", "\u0001");
/** keys is a list of key names, sometimes with an invalid one. */
export const keys = fc.array(fc.constantFrom("x", "y", "z", "x", "\n"), { maxLength: 3 });
/** data is the data of a set, sometimes with an invalid (empty) key. */
export const data = fc.dictionary(fc.constantFrom("x", "y", "z", "x", ""), value, { maxKeys: 3 }) as fc.Arbitrary<JsonObject>;
/** modelOp is one op of a Transaction stream, begin on Fuzz (mostly) or a namespace without rules. */
export const modelOp: fc.Arbitrary<ModelOp> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(NS, NS, NS, "Elsewhere").map((namespace) => ({ kind: "begin" as const, namespace })) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("get" as const), pkg, keys }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("set" as const), pkg, data }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("delete" as const), pkg, keys }) },
  { weight: 2, arbitrary: fc.constant({ kind: "savepoint" as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("rollback" as const), savepointId: fc.integer({ min: 0, max: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("commit" as const), onlyIfNoErrors: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ kind: "abort" as const }) },
);

/** toRequest turns a ModelOp (but begin, which needs the session id) into a TransactionRequest op. */
export function toRequest(o: ModelOp) {
  switch (o.kind) {
    case "begin":
      return op("begin", { namespace: o.namespace });
    case "get":
      return op("get", { package: o.pkg, keys: o.keys });
    case "set":
      return op("set", { package: o.pkg, data: o.data });
    case "delete":
      return op("delete", { package: o.pkg, keys: o.keys });
    case "rollback":
      return op("rollback", { savepointId: o.savepointId });
    case "commit":
      return op("commit", { onlyIfNoErrors: o.onlyIfNoErrors });
    default:
      return op(o.kind);
  }
}
