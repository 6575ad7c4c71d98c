// The stored record: what this build writes, and what earlier builds wrote, both read back the same.
import { create, toBinary } from "@bufbuild/protobuf";
import { status } from "@grpc/grpc-js";
import { expect } from "chai";
import { SessionRecordSchema } from "../gen/sessiond/record/v1/record_pb.js";
import { decodeRecord, encodeRecord, RECORD_FORMAT } from "../server/core/session-record.js";

describe("the stored session record", () => {
  const packages = {
    cart: { items: 3, names: ["a", "b"], nested: { ok: true, none: null }, unicode: "caf\u00e9 \u{1f600}" },
    ["__proto__"]: { still: "just a package" },
  };

  it("round-trips packages, times and the session id in this build's format", () => {
    const bytes = encodeRecord({ sessionId: "s1", createdAtMs: 1000, lastAccessedMs: 2000, packages }, 1 << 20);
    const record = decodeRecord(bytes, "k");
    expect(record.format).to.equal(RECORD_FORMAT);
    expect(record.sessionId).to.equal("s1");
    expect(Number(record.createdAtMs)).to.equal(1000);
    expect(Number(record.lastAccessedMs)).to.equal(2000);
    expect(record.packages).to.deep.equal(packages);
    expect(Object.hasOwn(record.packages, "__proto__"), "a package named __proto__ is an own package").to.equal(true);
    expect(Object.keys(record.packages).sort()).to.deep.equal(["__proto__", "cart"]);
  });

  it("reads records written by earlier builds (format 1: packages as Structs)", () => {
    const old = toBinary(
      SessionRecordSchema,
      create(SessionRecordSchema, {
        format: 1,
        sessionId: "old",
        createdAtMs: 5n,
        lastAccessedMs: 6n,
        packages: { cart: { n: 1 } },
      }),
    );
    const record = decodeRecord(old, "k");
    expect(record.sessionId).to.equal("old");
    expect(record.packages).to.deep.equal({ cart: { n: 1 } });
  });

  it("refuses a format it does not know, naming it, rather than reading it as empty", () => {
    const future = toBinary(SessionRecordSchema, create(SessionRecordSchema, { format: 99, sessionId: "x" }));
    expect(() => decodeRecord(future, "sd1:NS:k"))
      .to.throw(/format 99/)
      .with.property("code", status.FAILED_PRECONDITION);
  });
});
