// Server reflection, asked exactly as grpcurl asks it (grpcurl itself cannot be installed here): list the
// services, find the file of a symbol, fetch every import by file name, then build descriptors from the
// answers alone and call the service with JSON.

import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { expect } from "chai";
import {
  connectReflection,
  findMethod,
  invoke,
  type ReflectionClient,
  type ReflectionVersion,
  resolveSymbol,
} from "./helpers/ops-grpcurl.js";
import { type RunningSessiond, startSessiond } from "./helpers/sessiond.js";

const SERVICE = "sessiond.v1.SessionService";

describe("server reflection, as grpcurl uses it", () => {
  let sessiond: RunningSessiond;
  before(async () => {
    sessiond = await startSessiond();
  });
  after(() => sessiond?.stop());

  for (const version of ["v1", "v1alpha"] as ReflectionVersion[]) {
    describe(`reflection ${version}`, () => {
      let reflection: ReflectionClient;
      beforeEach(() => {
        reflection = connectReflection(sessiond.address, version);
      });
      afterEach(() => reflection.close());

      it("lists the session service and the health service", async () => {
        const services = await reflection.listServices();
        expect(services).to.include.members([SERVICE, "grpc.health.v1.Health"]);
      });

      it("answers the session service's file with its imports intact, and each import by its file name", async () => {
        const answered = await reflection.fileContainingSymbol(SERVICE);
        const own = answered.find((f) => f.name === "sessiond/v1/session_service.proto");
        expect(own, "sessiond/v1/session_service.proto").to.not.equal(undefined);
        expect(own!.package).to.equal("sessiond.v1");
        expect(own!.dependency).to.deep.equal(["google/protobuf/struct.proto", "google/protobuf/timestamp.proto"]);

        const struct = await reflection.fileByFilename("google/protobuf/struct.proto");
        expect(struct.find((f) => f.name === "google/protobuf/struct.proto")?.messageType.map((m) => m.name)).to.include.members([
          "Struct",
          "Value",
          "ListValue",
        ]);
        const timestamp = await reflection.fileByFilename("google/protobuf/timestamp.proto");
        expect(timestamp.find((f) => f.name === "google/protobuf/timestamp.proto")?.messageType.map((m) => m.name)).to.deep.equal(
          ["Timestamp"],
        );
      });

      it("resolves every type the service uses, Struct and Timestamp included, from reflection alone", async () => {
        const { registry } = await resolveSymbol(reflection, SERVICE);
        const service = registry.getService(SERVICE);
        expect(service?.methods.map((m) => m.name)).to.deep.equal([
          "CreateSession",
          "Get",
          "Set",
          "Delete",
          "ListSessions",
          "InvalidateAll",
          "RotateSession",
          "SetPrincipal",
          "DescribeSession",
          "ListPrincipalSessions",
          "RevokeSessions",
          "Transaction",
        ]);
        expect(registry.getMessage("sessiond.v1.GetResponse")?.field.data?.message?.typeName).to.equal("google.protobuf.Struct");
        expect(registry.getMessage("sessiond.v1.SessionInfo")?.field.createdAt?.message?.typeName).to.equal(
          "google.protobuf.Timestamp",
        );
        expect(findMethod(registry, `${SERVICE}/Transaction`).methodKind).to.equal("bidi_streaming");
      });

      it("describes grpc.health.v1.Health", async () => {
        const { registry } = await resolveSymbol(reflection, "grpc.health.v1.Health");
        expect(registry.getService("grpc.health.v1.Health")?.methods.map((m) => m.name)).to.include.members(["Check", "Watch"]);
        const check = findMethod(registry, "grpc.health.v1.Health/Check");
        expect(check.output.typeName).to.equal("grpc.health.v1.HealthCheckResponse");
        // The reflected descriptor matches what grpc-health-check really serves.
        expect(await invoke(sessiond.address, check, [{ service: "" }])).to.deep.equal([{ status: "SERVING" }]);
        const list = await invoke(sessiond.address, findMethod(registry, "grpc.health.v1.Health/List"), [{}]);
        expect(list).to.deep.equal([{ statuses: { "": { status: "SERVING" }, [SERVICE]: { status: "SERVING" } } }]);
      });
    });
  }

  describe("calls made with descriptors from reflection", () => {
    const ns = "ReflectedNamespace";
    let call: (method: string, json: JsonValue) => Promise<JsonObject>;
    let transaction: (
      requests: JsonValue[],
      onResponse?: (r: JsonValue, i: number) => JsonValue | undefined,
    ) => Promise<JsonValue[]>;

    before(async () => {
      const reflection = connectReflection(sessiond.address, "v1");
      const { registry } = await resolveSymbol(reflection, SERVICE);
      reflection.close();
      call = async (method, json) =>
        (await invoke(sessiond.address, findMethod(registry, `${SERVICE}/${method}`), [json]))[0] as JsonObject;
      transaction = (requests, onResponse) =>
        invoke(sessiond.address, findMethod(registry, `${SERVICE}/Transaction`), requests, onResponse);
    });

    it("calls every unary RPC with JSON in and JSON out", async () => {
      const { sessionId } = await call("CreateSession", { namespace: ns });
      expect(sessionId).to.be.a("string").with.length.above(20);
      await call("Set", {
        namespace: ns,
        session_id: sessionId!,
        package: "cart",
        data: { items: 2, note: "gift", tags: ["a"] },
      });
      expect(await call("Get", { namespace: ns, session_id: sessionId!, package: "cart" })).to.deep.equal({
        data: { items: 2, note: "gift", tags: ["a"] },
      });
      await call("Delete", { namespace: ns, session_id: sessionId!, package: "cart", keys: ["note"] });
      expect(await call("Get", { namespace: ns, sessionId: sessionId!, package: "cart" })).to.deep.equal({
        data: { items: 2, tags: ["a"] },
      });

      const listed = (await call("ListSessions", { namespace: ns })) as {
        sessions: Array<{ sessionId: string; createdAt: string }>;
      };
      const info = listed.sessions.find((s) => s.sessionId === sessionId);
      expect(info?.createdAt, "a Timestamp, as RFC 3339 text").to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);

      const { sessionId: rotated } = await call("RotateSession", { namespace: ns, session_id: sessionId! });
      expect(rotated).to.not.equal(sessionId);
      expect(await call("Get", { namespace: ns, session_id: rotated!, package: "cart" })).to.deep.equal({
        data: { items: 2, tags: ["a"] },
      });
      await call("InvalidateAll", { namespace: ns });
      expect(await call("Get", { namespace: ns, session_id: rotated!, package: "cart" })).to.deep.equal({ data: {} });
    });

    it("drives a whole transaction over the stream: begin, set, savepoint, set, rollback, get, commit", async () => {
      const id = "reflected-session";
      const steps: Array<(previous: JsonObject) => JsonValue> = [
        () => ({ begin: { namespace: ns, session_id: id } }),
        () => ({ set: { package: "myData", data: { info: "we want to keep this" } } }),
        () => ({ savepoint: {} }),
        () => ({ set: { package: "myData", data: { info: "this should be dumped", newinfo: "go away" } } }),
        // As a person at grpcurl would: roll back to the id the savepoint answered.
        (previous) => ({ rollback: { savepoint_id: (previous.savepoint as JsonObject).savepointId! } }),
        () => ({ get: { package: "myData" } }),
        () => ({ commit: {} }),
      ];
      const answers: JsonObject[] = [];
      let savepointAnswer: JsonObject = {};
      await transaction([steps[0]!({})], (response, i) => {
        answers.push(response as JsonObject);
        if ((response as JsonObject).savepoint) savepointAnswer = response as JsonObject;
        return steps[i + 1]?.(savepointAnswer);
      });
      expect(answers.map((a) => Object.keys(a)[0])).to.deep.equal([
        "begin",
        "set",
        "savepoint",
        "set",
        "rollback",
        "get",
        "commit",
      ]);
      expect(answers[5]).to.deep.equal({ get: { data: { info: "we want to keep this" } } });
      expect(await call("Get", { namespace: ns, session_id: id, package: "myData" })).to.deep.equal({
        data: { info: "we want to keep this" },
      });
    });
  });
});
