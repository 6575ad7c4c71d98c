import { expect } from "chai";
import { createKeyRing } from "../server/store/key-ring.js";

describe("the key ring", () => {
  // Answers recorded from nutcracker (twemproxy) 0.5.0 with `hash: md5`, `distribution: ketama` and the
  // servers listed as "host:port:1": key `session:fixture:<n>` -> index of the server that got it. Most are
  // keys that hashring's own ketama mode routes elsewhere (39 instead of 40 hashes per server for 7 servers;
  // 40 instead of 39 for 25; port 11211 hashed although twemproxy leaves it out).
  const recorded: Array<[label: string, servers: string[], answers: Array<[n: number, server: number]>]> = [
    [
      "7 servers on port 22122",
      Array.from({ length: 7 }, (_, i) => `127.0.0.${11 + i}:22122`),
      [
        [6, 1],
        [48, 4],
        [109, 3],
        [127, 1],
        [155, 2],
        [0, 0],
        [1, 2],
        [2, 5],
      ],
    ],
    [
      "7 servers on port 11211",
      Array.from({ length: 7 }, (_, i) => `127.0.0.${21 + i}:11211`),
      [
        [0, 5],
        [1, 0],
        [2, 5],
        [3, 2],
        [4, 0],
        [5, 5],
        [10, 2],
        [28, 3],
      ],
    ],
    [
      "25 servers on port 22122",
      Array.from({ length: 25 }, (_, i) => `127.0.1.${1 + i}:22122`),
      [
        [11, 22],
        [24, 9],
        [33, 6],
        [61, 17],
        [168, 24],
        [0, 11],
        [1, 21],
        [2, 1],
      ],
    ],
  ];
  for (const [label, servers, answers] of recorded) {
    it(`routes keys as twemproxy does with ${label}`, () => {
      const ring = createKeyRing(servers);
      for (const [n, server] of answers) {
        expect(ring.serverFor(`session:fixture:${n}`), `session:fixture:${n}`).to.equal(servers[server]);
      }
    });
  }

  it("sends every key to the only server of a one-server ring", () => {
    const ring = createKeyRing(["127.0.0.1:22122"]);
    expect(ring.serverFor("session:fixture:0")).to.equal("127.0.0.1:22122");
  });

  it("refuses an empty, duplicated or malformed server list", () => {
    expect(() => createKeyRing([])).to.throw(/no memcached servers/);
    expect(() => createKeyRing(["127.0.0.1:1", "127.0.0.1:1"])).to.throw(/listed twice/);
    expect(() => createKeyRing(["127.0.0.1"])).to.throw(/not "host:port"/);
  });
});
