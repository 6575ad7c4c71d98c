// A model of sessiond's transaction semantics and access rules, for the fuzz spec: what each op of a
// Transaction stream must answer, and what storage must hold afterwards. Kept as plain as possible so that
// it reads as the contract does, not as the server's code does.
import type { JsonObject } from "@bufbuild/protobuf";

/** ModelOp is one op of a generated sequence. */
export type ModelOp =
  | { kind: "begin"; namespace: string }
  | { kind: "get"; pkg: string; keys: string[] }
  | { kind: "set"; pkg: string; data: JsonObject }
  | { kind: "delete"; pkg: string; keys: string[] }
  | { kind: "savepoint" }
  | { kind: "rollback"; savepointId: number }
  | { kind: "commit"; onlyIfNoErrors: boolean }
  | { kind: "abort" };

/** Expected is what one op must answer: a status code (0 = a result) and, for get, the data. */
export interface Expected {
  code: number;
  data?: JsonObject;
}

type Packages = Record<string, JsonObject>;

const OK = 0;
const INVALID_ARGUMENT = 3;
const NOT_FOUND = 5;
const PERMISSION_DENIED = 7;
const FAILED_PRECONDITION = 9;

const validName = (s: string) => s.length > 0 && !/[\u0000-\u001f\u007f-\u009f]/.test(s);
const clone = (p: Packages): Packages => JSON.parse(JSON.stringify(p)) as Packages;

/**
 * TransactionModel follows one Transaction stream over one session: `stored` is what storage holds, an
 * open transaction has its own copy, savepoints copy again. `can(permission, namespace)` is the caller's
 * access (the server's rules, restated).
 */
export class TransactionModel {
  stored: Packages = {};
  private tx: { packages: Packages; failed: boolean; savepoints: Array<{ id: number; packages: Packages }> } | undefined;
  private nextSavepoint = 1;
  private namespace = "";

  constructor(private readonly can: (permission: "read" | "write", namespace: string) => boolean) {}

  /** apply returns what the server must answer to `op`, and updates the model. */
  apply(op: ModelOp): Expected {
    if (op.kind === "begin") {
      if (!this.can("read", op.namespace)) return { code: PERMISSION_DENIED };
      if (this.tx !== undefined) return { code: FAILED_PRECONDITION };
      this.namespace = op.namespace;
      this.tx = { packages: clone(this.stored), failed: false, savepoints: [] };
      return { code: OK };
    }
    const tx = this.tx;
    if (tx === undefined) return { code: FAILED_PRECONDITION };
    const permission = op.kind === "set" || op.kind === "delete" ? "write" : "read";
    if (!this.can(permission, this.namespace)) {
      tx.failed = true;
      return { code: PERMISSION_DENIED };
    }
    const fail = (code: number): Expected => {
      tx.failed = true;
      return { code };
    };
    switch (op.kind) {
      case "get": {
        if (!validName(op.pkg) || !op.keys.every(validName)) return fail(INVALID_ARGUMENT);
        const pkg = tx.packages[op.pkg] ?? {};
        if (op.keys.length === 0) return { code: OK, data: { ...pkg } };
        return { code: OK, data: Object.fromEntries(op.keys.filter((k) => k in pkg).map((k) => [k, pkg[k]!])) };
      }
      case "set":
        if (!validName(op.pkg) || !Object.keys(op.data).every(validName)) return fail(INVALID_ARGUMENT);
        tx.packages[op.pkg] = { ...tx.packages[op.pkg], ...clone({ d: op.data }).d };
        return { code: OK };
      case "delete":
        if (op.pkg === "") {
          if (op.keys.length > 0) return fail(INVALID_ARGUMENT);
          tx.packages = {};
          return { code: OK };
        }
        if (!validName(op.pkg) || !op.keys.every(validName)) return fail(INVALID_ARGUMENT);
        if (op.keys.length === 0) delete tx.packages[op.pkg];
        else if (tx.packages[op.pkg] !== undefined) for (const k of op.keys) delete tx.packages[op.pkg]![k];
        return { code: OK };
      case "savepoint":
        tx.savepoints.push({ id: this.nextSavepoint, packages: clone(tx.packages) });
        return { code: OK, data: { savepointId: this.nextSavepoint++ } };
      case "rollback": {
        const at = tx.savepoints.findIndex((s) => s.id === op.savepointId);
        if (at < 0) return fail(NOT_FOUND);
        tx.savepoints.length = at + 1;
        tx.packages = clone(tx.savepoints[at]!.packages);
        return { code: OK };
      }
      case "commit":
        this.tx = undefined;
        if (op.onlyIfNoErrors && tx.failed) return { code: FAILED_PRECONDITION };
        this.stored = tx.packages;
        return { code: OK };
      case "abort":
        this.tx = undefined;
        return { code: OK };
    }
  }
}
