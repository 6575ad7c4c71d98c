// No caller string reaches memcached as a raw key: every key is derived (prefix, namespace, generation,
// hash of the id) and stays under memcached's 250-byte limit.

import { expect } from "chai";
import { defaultCoreOptions, RECORD_OVERHEAD_BYTES } from "../server/core/options.js";
import { useSessiond } from "./helpers/fixture.js";
import { dumpKeys } from "./helpers/memcached.js";

describe("memcached keys", function () {
  this.timeout(20_000);
  const env = useSessiond();

  it("are derived from hashes, whatever the session id looks like", async () => {
    const ids = ["plain", "with:colons:and/slashes", "%00%0d%0a", "x".repeat(256), "get_ready_to_flush_all"];
    for (const sessionId of ids) {
      await env.sessiond.call("set", { namespace: "Keys.test-1", sessionId, package: "p", data: { v: 1 } });
    }
    const keys = await dumpKeys(env.memcached.port);
    expect(keys.length).to.be.at.least(ids.length + 1);
    for (const key of keys) {
      expect(key).to.match(/^sd1:Keys\.test-1:(gen~\d+|\d+\.[0-9a-f]{16}:(s:[A-Za-z0-9_-]{43}|i:\d+:\d+(\.\d+)?))$/);
      expect(Buffer.byteLength(key)).to.be.below(250);
      for (const id of ids) if (id !== "plain") expect(key).to.not.include(id);
    }
  });

  it("hold the largest record the core writes under the longest key memcached takes (RECORD_OVERHEAD_BYTES)", async () => {
    // The fixture's memcached runs with its default item size limit (-I 1m), the core's default maxItemBytes.
    const longest = `sd1:${"k".repeat(246)}`;
    const largest = new Uint8Array(defaultCoreOptions.maxItemBytes - RECORD_OVERHEAD_BYTES);
    await env.sessiond.store.set(longest, largest, 60);
    expect((await env.sessiond.store.get(longest))?.value.byteLength).to.equal(largest.byteLength);
    await env.sessiond.store.delete(longest);
  });
});
