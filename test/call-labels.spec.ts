// The labels of grpc_server_* metrics: go-grpc-prometheus's spelling, and a bounded set whatever the path.

import { expect } from "chai";
import { codeName, createCallLabeler } from "../server/telemetry/call-labels.js";

describe("gRPC metric labels", () => {
  const callLabels = createCallLabeler();
  it("names a method by its service, its name and its type, as go-grpc-prometheus does", () => {
    expect(callLabels({ path: "/sessiond.v1.SessionService/Get", requestStream: false, responseStream: false })).to.deep.equal({
      grpc_type: "unary",
      grpc_service: "sessiond.v1.SessionService",
      grpc_method: "Get",
    });
    expect(
      callLabels({ path: "/sessiond.v1.SessionService/Transaction", requestStream: true, responseStream: true }).grpc_type,
    ).to.equal("bidi_stream");
    expect(callLabels({ path: "/grpc.health.v1.Health/Watch", requestStream: false, responseStream: true }).grpc_type).to.equal(
      "server_stream",
    );
  });

  it("gives a path that is not /service/method the fixed labels unknown", () => {
    for (const path of ["/sessiond.v1.SessionService/Get/extra", "/no-method", "/a b/c", ""]) {
      const labels = callLabels({ path, requestStream: false, responseStream: false });
      expect([labels.grpc_service, labels.grpc_method], path).to.deep.equal(["unknown", "unknown"]);
    }
  });

  it("stops naming new paths after 256, so labels stay bounded", () => {
    const labeler = createCallLabeler();
    const names = new Set<string>();
    for (let i = 0; i < 400; i++) {
      names.add(labeler({ path: `/svc.Many/M${i}`, requestStream: false, responseStream: false }).grpc_method);
    }
    expect(names.size).to.equal(257); // 256 methods and unknown
    expect(names.has("unknown")).to.equal(true);
  });

  it("spells status codes as Go's codes package", () => {
    expect([0, 1, 3, 10, 14, 16].map(codeName)).to.deep.equal([
      "OK",
      "Canceled",
      "InvalidArgument",
      "Aborted",
      "Unavailable",
      "Unauthenticated",
    ]);
    expect(codeName(99)).to.equal("Unknown");
  });
});
