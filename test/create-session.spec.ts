// CreateSession draws a fresh random id and adds it, never overwriting; its retries are bounded.

import { expect } from "chai";
import { createSessionCore } from "../server/core/session-core.js";
import { createMemoryStore } from "../server/store/memory-store.js";
import type { Store } from "../server/store/store.js";

describe("createSession", () => {
  it("creates a session that reads back empty and is listed", async () => {
    const store = createMemoryStore();
    const core = createSessionCore(store);
    const { sessionId: id } = await core.createSession("Fresh");
    expect(id).to.match(/^[A-Za-z0-9_-]{32}$/);
    expect(await core.get("Fresh", id, "p", [])).to.deep.equal({});
    expect((await core.listSessions("Fresh", 10, "")).sessions.map((s) => s.sessionId)).to.deep.equal([id]);
    await store.close();
  });

  it("gives up with a clear error when the store refuses every add, instead of looping forever", async () => {
    const memory = createMemoryStore();
    let adds = 0;
    // Refuses to add any session record (keys `<prefix>:<ns>:<generation>:s:<hash>`), as a store holding
    // every key already would; other keys (the namespace's generation) go through.
    const refusing: Store = {
      ...memory,
      add: async (key, value, lifetimeSeconds) => {
        if (!key.includes(":s:")) return memory.add(key, value, lifetimeSeconds);
        adds++;
        return false;
      },
    };
    const core = createSessionCore(refusing, { keyPrefix: "app" });
    const err = await core.createSession("Stuck").then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).to.match(/storage refused to add 3 fresh random ids.*key prefix "app"/);
    expect(adds).to.equal(3);
    await memory.close();
  });
});
