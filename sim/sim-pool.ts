import { createKeyRing, type KeyRing } from "../server/store/key-ring.js";
import { type Command, MemcachedNode, type Reply } from "./memcached-node.js";
import type { Random } from "./random.js";
import type { Scheduler } from "./scheduler.js";

/** Network is how a scheduled pool moves messages: the seed's clock and the delays it draws. */
export interface Network {
  scheduler: Scheduler;
  random: Random;
  /** delayMs draws one message's travel time (request or reply). */
  delayMs(): number;
}

/** Delivery is what a client waits for: the reply, or the failure of its connection (a reason for the message). */
export interface Delivery {
  reply(reply: Reply): void;
  fail(reason: string): void;
}

/** NodeState is a simulated server's condition: serving, frozen (SIGSTOP: commands wait), or down (restarting). */
export type NodeState = "up" | "frozen" | "down";

/**
 * SimPool is a simulated pool of memcached servers, shared by every instance of a simulation: the nodes,
 * the md5 ketama ring that spreads keys over them (the same `createKeyRing` as the real store), and the
 * network between clients and nodes.
 *
 * Without a network (`immediate`), each command runs when sent and answers at once, on the real clock:
 * that is how the store conformance suite drives it. With one, a command reaches its node after a drawn
 * delay, runs there (or waits while the node is frozen, or is lost when it is down), and its reply comes
 * back after another: the seed decides every order. Faults (`restartEmpty`, `freeze`, `thaw`,
 * `loseNextReply`) act on nodes.
 */
export class SimPool {
  readonly nodes: MemcachedNode[];
  readonly addresses: string[];
  readonly ring: KeyRing;
  private readonly states: NodeState[];
  private readonly waiting: Array<Array<() => void>>;
  private readonly losing: boolean[];
  // Keys already placed on the ring (md5 per key is most of a listing's cost otherwise).
  private readonly placed = new Map<string, number>();
  /** replies lost so far (a write applied, its answer never seen). */
  lostReplies = 0;

  constructor(
    nodeCount: number,
    readonly clockMs: () => number,
    readonly network: Network | undefined,
    readonly maxItemBytes = 1024 * 1024,
  ) {
    this.addresses = Array.from({ length: nodeCount }, (_, i) => `10.0.0.${i + 1}:11211`);
    this.ring = createKeyRing(this.addresses);
    // Each memcached ticks its clock at its own moment of the second.
    const phase = () => (network ? network.random.int(1000) : 0);
    this.nodes = this.addresses.map((_, i) => new MemcachedNode(`m${i}`, clockMs, phase(), maxItemBytes));
    this.states = this.nodes.map(() => "up");
    this.waiting = this.nodes.map(() => []);
    this.losing = this.nodes.map(() => false);
  }

  /** nodeOf answers the index of the node that holds `key`. */
  nodeOf(key: string): number {
    let node = this.placed.get(key);
    if (node === undefined) {
      node = this.addresses.indexOf(this.ring.serverFor(key));
      if (this.placed.size > 100_000) this.placed.clear();
      this.placed.set(key, node);
    }
    return node;
  }

  /** state answers a node's condition. */
  state(node: number): NodeState {
    return this.states[node]!;
  }

  /** deliver carries one command to a node and its reply back (see the class comment). */
  deliver(node: number, command: Command, delivery: Delivery): void {
    const net = this.network;
    if (net === undefined) {
      delivery.reply(this.nodes[node]!.execute(command));
      return;
    }
    if (this.states[node] === "down") {
      net.scheduler.after(net.delayMs(), () => delivery.fail("ECONNREFUSED"));
      return;
    }
    const arrive = () => {
      if (this.states[node] === "down")
        return net.scheduler.after(net.delayMs(), () => delivery.fail("connection lost (server restarted)"));
      if (this.states[node] === "frozen") return this.waiting[node]!.push(arrive);
      const reply = this.nodes[node]!.execute(command);
      if (this.losing[node] && command.op !== "gets" && command.op !== "version") {
        this.losing[node] = false;
        this.lostReplies++;
        return net.scheduler.after(net.delayMs(), () => delivery.fail("connection lost (reply lost)"));
      }
      return net.scheduler.after(net.delayMs(), () => delivery.reply(reply));
    };
    net.scheduler.after(net.delayMs(), arrive);
  }

  /** restartEmpty stops a node (commands refused, those waiting in it lost) and starts it empty `downMs` later. */
  restartEmpty(node: number, downMs: number): void {
    this.states[node] = "down";
    this.nodes[node]!.restartEmpty();
    const lost = this.waiting[node]!.splice(0);
    for (const arrive of lost) arrive(); // each fails: the node is down
    this.network?.scheduler.after(downMs, () => {
      this.states[node] = "up";
    });
  }

  /** freeze stops a node from answering (SIGSTOP): commands wait in it until `thaw`. */
  freeze(node: number): void {
    if (this.states[node] === "up") this.states[node] = "frozen";
  }

  /** thaw lets a frozen node run the commands that waited, in the order they came. */
  thaw(node: number): void {
    if (this.states[node] !== "frozen") return;
    this.states[node] = "up";
    for (const arrive of this.waiting[node]!.splice(0)) arrive();
  }

  /** loseNextReply makes the node's next write run but its reply be lost (the caller sees a broken connection). */
  loseNextReply(node: number): void {
    this.losing[node] = true;
  }
}
