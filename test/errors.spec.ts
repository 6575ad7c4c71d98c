// The core names gRPC status codes without importing grpc-js; they must be gRPC's own numbers.

import { status } from "@grpc/grpc-js";
import { expect } from "chai";
import { Code } from "../server/core/errors.js";

describe("the core's status codes", () => {
  it("are exactly grpc-js's status numbers", () => {
    for (const [name, value] of Object.entries(Code)) {
      expect(value, name).to.equal(status[name as keyof typeof status]);
    }
  });
});
