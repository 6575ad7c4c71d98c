// Another host for tests, made of a network namespace joined to this one by a veth pair: a caller run
// there reaches sessiond from a non-loopback address, as a caller on another machine would. Traffic stays
// between the two ends, on addresses of the test's own (10.213.19.0/24); nothing else is ever a target.
// Needs root and iproute2 (`ip`), as the machines and CI have.

import { execFileSync } from "node:child_process";
import { spawnProcess } from "./ops-process.js";
import type { RemoteOutcomes } from "./remote-caller.js";

/** RemoteHost is a network namespace with one address; `hostAddress` is this side's end of the link. */
export interface RemoteHost {
  /** hostAddress is the address sessiond is reached at from the other host (this namespace's end). */
  readonly hostAddress: string;
  /** callerAddress is the other host's address: what sessiond sees as the caller's. */
  readonly callerAddress: string;
  /** callFrom runs test/helpers/remote-caller.ts there against HOST:PORT and returns what each call answered. */
  callFrom(target: string, namespace: string): Promise<RemoteOutcomes>;
  /** remove deletes the namespace and the link. */
  remove(): void;
}

const ip = (...args: string[]) => execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });

/** createRemoteHost makes the namespace and the link, on a /30 of 10.213.19.0/24 chosen by this process's id. */
export function createRemoteHost(): RemoteHost {
  const id = `sd${process.pid}`;
  const [namespace, here, there] = [`${id}-ns`, `${id}-h`, `${id}-c`];
  const base = 4 * (process.pid % 64);
  const hostAddress = `10.213.19.${base + 1}`;
  const callerAddress = `10.213.19.${base + 2}`;
  ip("netns", "add", namespace);
  try {
    ip("link", "add", here, "type", "veth", "peer", "name", there);
    ip("link", "set", there, "netns", namespace);
    ip("addr", "add", `${hostAddress}/30`, "dev", here);
    ip("link", "set", here, "up");
    ip("-n", namespace, "addr", "add", `${callerAddress}/30`, "dev", there);
    ip("-n", namespace, "link", "set", there, "up");
    ip("-n", namespace, "link", "set", "lo", "up");
  } catch (err) {
    remove();
    throw err;
  }
  function remove() {
    // Deleting one end of a veth pair deletes both; the namespace goes with what is left in it.
    for (const args of [
      ["link", "del", here],
      ["netns", "del", namespace],
    ]) {
      try {
        ip(...args);
      } catch {
        // already gone
      }
    }
  }
  return {
    hostAddress,
    callerAddress,
    async callFrom(target, ns) {
      const caller = spawnProcess("ip", [
        "netns",
        "exec",
        namespace,
        process.execPath,
        "--import",
        "tsx",
        "test/helpers/remote-caller.ts",
        target,
        ns,
      ]);
      const exit = await caller.waitForExit(30_000);
      if (exit.code !== 0) throw new Error(`remote caller exited ${exit.code}: ${caller.stderr()}`);
      return caller.lines.at(-1) as unknown as RemoteOutcomes;
    },
    remove,
  };
}
