// How sessiond answers and logs failures: one status per kind of error, and a memcached outage logged as a
// few lines a second, not one line per failed call.
import { status } from "@grpc/grpc-js";
import { expect } from "chai";
import { type Logger, pino } from "pino";
import { SessionError } from "../server/core/errors.js";
import { toErrorStatus } from "../server/grpc/status.js";
import { StoreUnavailableError } from "../server/store/store.js";

/** recorded returns a pino logger whose lines land, parsed, in `lines`. */
function recorded(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

describe("failure statuses and their log lines", () => {
  it("answers UNAVAILABLE for every call while memcached is out, logging each cause once a second with a count", async () => {
    const { logger, lines } = recorded();
    const down = new StoreUnavailableError("memcached 127.0.0.1:1 unreachable: no answer within 1000 ms");
    const refused = new StoreUnavailableError("memcached 127.0.0.1:2 unreachable: ECONNREFUSED");
    for (let i = 0; i < 500; i++) {
      const answer = toErrorStatus(i % 5 === 0 ? refused : down, logger, { method: "Get" });
      expect(answer.code).to.equal(status.UNAVAILABLE);
      expect(answer.details).to.not.include("127.0.0.1");
    }
    expect(lines.map((l) => l.err)).to.deep.equal([refused.message, down.message]);
    expect(lines.every((l) => l.msg === "storage unavailable" && l.method === "Get")).to.equal(true);

    await new Promise((resolve) => setTimeout(resolve, 1050));
    toErrorStatus(down, logger, { method: "Set" });
    expect(lines).to.have.length(3);
    expect(lines[2]).to.include({ err: down.message, method: "Set", suppressed: 399 });
  });

  it("keeps a SessionError's code and message, and hides anything else behind INTERNAL", () => {
    const { logger, lines } = recorded();
    expect(toErrorStatus(new SessionError(status.NOT_FOUND, "no such session"), logger, {})).to.deep.equal({
      code: status.NOT_FOUND,
      details: "no such session",
    });
    const internal = toErrorStatus(new TypeError("x is undefined"), logger, { method: "Get" });
    expect(internal.code).to.equal(status.INTERNAL);
    expect(internal.details).to.not.include("x is undefined");
    expect(lines).to.have.length(1);
    expect(lines[0]).to.include({ msg: "internal error", method: "Get" });
  });
});
