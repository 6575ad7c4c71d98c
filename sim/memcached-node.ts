import { MAX_LIFETIME_SECONDS } from "../server/store/store.js";

/**
 * Command is one memcached command as the simulated pool carries it: what `createMemcachedServer` sends
 * (`gets k1 k2...`, `cas`, `add`, `set`, `append`, `touch`, `delete`, `incr`, `decr`, `version`).
 */
export type Command =
  | { op: "gets"; keys: readonly string[] }
  | { op: "cas"; key: string; value: Buffer; lifetime: number; cas: string }
  | { op: "add" | "set" | "append"; key: string; value: Buffer; lifetime: number }
  | { op: "touch"; key: string; lifetime: number }
  | { op: "delete"; key: string }
  | { op: "incr" | "decr"; key: string; delta: number }
  | { op: "version" };

/** Reply is memcached's answer to a command: a word (STORED, NOT_STORED...), values, or a number. */
export type Reply =
  | { word: "STORED" | "NOT_STORED" | "EXISTS" | "NOT_FOUND" | "DELETED" | "TOUCHED" | "VERSION" }
  | { word: "VALUES"; values: Map<string, { value: Buffer; cas: string }> }
  | { word: "NUMBER"; value: number }
  | { word: "SERVER_ERROR" | "CLIENT_ERROR"; message: string };

// memcached 1.6 counts an item as its header (48 bytes) + the CAS value (8) + the key and its NUL + the
// flags suffix (4: sessiond writes flags 8) + the value's CRLF (2); `-I` bounds that total.
const ITEM_HEADER_BYTES = 48 + 8 + 1 + 4 + 2;

// Internal: one item. exptime is memcached's: 0 never, else the server second at which it is gone.
interface Item {
  value: Buffer;
  cas: bigint;
  exptime: number;
}

/**
 * MemcachedNode is one simulated memcached server: its items and their cas uniques, on a clock that ticks
 * once a second (memcached's `current_time`, updated by a timer: `phaseMs` sets where in each second it
 * ticks). Semantics follow memcached 1.6 (memcached.c, items.c):
 * - one cas unique counter per server, bumped by every store (set, add, cas, append, incr/decr); touch
 *   keeps it; a restart starts it again from 0, so an old version may match a new item's, as it can on a real one;
 * - exptime: 0 never; a relative lifetime (<= 30 days) ends at `current_time + lifetime`; more is a Unix
 *   time; negative is already gone; an item is gone once `exptime <= current_time`;
 * - an item over `maxItemBytes` (header, key and value) is refused with SERVER_ERROR object too large;
 *   an append whose result would be over it answers NOT_STORED (the value is unchanged);
 * - incr/decr need a decimal value (CLIENT_ERROR otherwise); incr wraps at 2^64, decr stops at 0.
 */
export class MemcachedNode {
  private items = new Map<string, Item>();
  private casCounter = 0n;

  constructor(
    readonly name: string,
    private readonly clockMs: () => number,
    private readonly phaseMs: number,
    private readonly maxItemBytes: number,
  ) {}

  /** currentTime is memcached's clock in whole seconds, as of its last tick. */
  currentTime(): number {
    return Math.floor((this.clockMs() - this.phaseMs) / 1000);
  }

  /** restartEmpty forgets every item and starts the cas uniques again (a restarted memcached). */
  restartEmpty(): void {
    this.items = new Map();
    this.casCounter = 0n;
  }

  /** keys answers the keys of the live items (the simulator tells which sessions a restart lost). */
  keys(): string[] {
    return [...this.items.keys()].filter((key) => this.live(key) !== undefined);
  }

  /** execute runs one command at once and answers memcached's reply. */
  execute(command: Command): Reply {
    switch (command.op) {
      case "version":
        return { word: "VERSION" };
      case "gets": {
        const values = new Map<string, { value: Buffer; cas: string }>();
        for (const key of command.keys) {
          const item = this.live(key);
          if (item !== undefined) values.set(key, { value: Buffer.from(item.value), cas: String(item.cas) });
        }
        return { word: "VALUES", values };
      }
      case "set":
      case "add":
      case "cas":
      case "append": {
        if (this.tooLarge(command.key, command.value.byteLength))
          return { word: "SERVER_ERROR", message: "object too large for cache" };
        const item = this.live(command.key);
        if (command.op === "add" && item !== undefined) return { word: "NOT_STORED" };
        if (command.op === "cas") {
          if (item === undefined) return { word: "NOT_FOUND" };
          if (String(item.cas) !== command.cas) return { word: "EXISTS" };
        }
        if (command.op === "append") {
          if (item === undefined || this.tooLarge(command.key, item.value.byteLength + command.value.byteLength)) {
            return { word: "NOT_STORED" };
          }
          this.store(command.key, Buffer.concat([item.value, command.value]), item.exptime);
        } else {
          this.store(command.key, Buffer.from(command.value), this.exptime(command.lifetime));
        }
        return { word: "STORED" };
      }
      case "touch": {
        const item = this.live(command.key);
        if (item === undefined) return { word: "NOT_FOUND" };
        item.exptime = this.exptime(command.lifetime);
        return { word: "TOUCHED" };
      }
      case "delete":
        if (this.live(command.key) === undefined) return { word: "NOT_FOUND" };
        this.items.delete(command.key);
        return { word: "DELETED" };
      case "incr":
      case "decr": {
        const item = this.live(command.key);
        if (item === undefined) return { word: "NOT_FOUND" };
        // safe_strtoull: leading blanks, digits, then the end or a blank; at most 2^64 - 1.
        const digits = /^\s*(\d{1,20})(?:\s|$)/.exec(item.value.toString("latin1"))?.[1];
        if (digits === undefined || BigInt(digits) > 0xffff_ffff_ffff_ffffn) {
          return { word: "CLIENT_ERROR", message: "cannot increment or decrement non-numeric value" };
        }
        const current = BigInt(digits);
        const delta = BigInt(command.delta);
        const next = command.op === "incr" ? (current + delta) & 0xffff_ffff_ffff_ffffn : current > delta ? current - delta : 0n;
        // do_add_delta rewrites a number no longer than the old value in place, padded with blanks.
        const text = String(next);
        this.store(
          command.key,
          Buffer.from(text.padEnd(Math.max(text.length, item.value.byteLength), " "), "latin1"),
          item.exptime,
        );
        return { word: "NUMBER", value: Number(next) };
      }
    }
  }

  private live(key: string): Item | undefined {
    const item = this.items.get(key);
    if (item === undefined) return undefined;
    if (item.exptime !== 0 && item.exptime <= this.currentTime()) {
      this.items.delete(key);
      return undefined;
    }
    return item;
  }

  private store(key: string, value: Buffer, exptime: number): void {
    this.items.set(key, { value, cas: ++this.casCounter, exptime });
  }

  private tooLarge(key: string, valueBytes: number): boolean {
    return ITEM_HEADER_BYTES + Buffer.byteLength(key, "latin1") + valueBytes > this.maxItemBytes;
  }

  // exptime turns a command's lifetime into memcached's exptime (realtime() in memcached.c). This node's
  // seconds are Unix seconds (shifted by its phase), so a Unix time is its own exptime; 1 is long gone.
  private exptime(lifetime: number): number {
    if (lifetime === 0) return 0;
    if (lifetime < 0) return 1;
    if (lifetime > MAX_LIFETIME_SECONDS) return lifetime <= this.currentTime() ? 1 : lifetime;
    return this.currentTime() + lifetime;
  }
}
