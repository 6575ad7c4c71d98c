// sessiond as a real process (`node --import tsx server/main.ts serve ...`, or any command line), with its
// JSON log lines collected, and a plain gRPC client of it built from the generated service.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { create, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import {
  type Client,
  type ClientDuplexStream,
  credentials,
  makeGenericClientConstructor,
  type ServiceError,
} from "@grpc/grpc-js";
import { SessionService, type TransactionRequest, type TransactionResponse } from "../../gen/sessiond/v1/session_service_pb.js";
import { createServiceDefinition } from "../../rpc/service-definition.js";
import { TransactionStreamDriver } from "./sessiond.js";

/** REPO is the repository root (the processes run there). */
export const REPO = fileURLToPath(new URL("../..", import.meta.url));

/** LogLine is one parsed JSON log line of sessiond. */
export type LogLine = Record<string, unknown> & { msg?: string; pid?: number; level?: string };

/** SessiondProcess is a sessiond (or other) process started by `spawnProcess`. */
export interface SessiondProcess {
  readonly child: ChildProcess;
  /** lines are the JSON log lines read so far from stdout. */
  readonly lines: LogLine[];
  /** stderr is everything the process wrote to stderr. */
  readonly stderr: () => string;
  /** waitForLog resolves with the first line (past or future) that matches; rejects after timeoutMs. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** exited resolves with the exit code (or signal) once the process has ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** waitForExit resolves with the exit status, or rejects (and kills the process) after timeoutMs. */
  waitForExit(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

// Every process started here and not yet exited: killed when the test run ends.
const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/** spawnProcess starts `command args` in the repository root and collects its JSON log lines. */
export function spawnProcess(command: string, args: string[], env: NodeJS.ProcessEnv = {}): SessiondProcess {
  const child = spawn(command, args, { cwd: REPO, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  const lines: LogLine[] = [];
  const waiters = new Set<{ match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }>();
  let stderr = "";
  let partial = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    const parts = (partial + chunk).split("\n");
    partial = parts.pop()!;
    for (const text of parts) {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { msg: text };
      }
      lines.push(line);
      for (const w of [...waiters]) {
        if (w.match(line)) {
          waiters.delete(w);
          w.resolve(line);
        }
      }
    }
  });
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  const describe = () => `stdout:\n${lines.map((l) => JSON.stringify(l)).join("\n")}\nstderr:\n${stderr}`;
  return {
    child,
    lines,
    stderr: () => stderr,
    exited,
    waitForLog(match, timeoutMs = 15_000) {
      const found = lines.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const waiter = { match, resolve };
        waiters.add(waiter);
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`no matching log line within ${timeoutMs} ms\n${describe()}`));
        }, timeoutMs);
        void exited.then(() => {
          setTimeout(() => {
            if (waiters.delete(waiter)) {
              clearTimeout(timer);
              reject(new Error(`process exited without the log line\n${describe()}`));
            }
          }, 50);
        });
      });
    },
    async waitForExit(timeoutMs = 15_000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill("SIGKILL");
          reject(new Error(`process did not exit within ${timeoutMs} ms\n${describe()}`));
        }, timeoutMs);
      });
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/**
 * startSessiondProcess runs `node --import tsx server/main.ts serve ...flags` (listening on 127.0.0.1:0
 * unless flags say otherwise) and resolves once it logged `startedMessage`, with the address it logged.
 * When it does not start within `startTimeoutMs` (waitForLog's default), it is killed and the error is thrown.
 */
export async function startSessiondProcess(
  flags: string[],
  options: { env?: NodeJS.ProcessEnv; startedMessage?: string; startTimeoutMs?: number } = {},
): Promise<SessiondProcess & { address: string }> {
  const listen = flags.includes("--listen") ? [] : ["--listen", "127.0.0.1:0"];
  const proc = spawnProcess(process.execPath, ["--import", "tsx", "server/main.ts", "serve", ...listen, ...flags], options.env);
  try {
    const started = await proc.waitForLog(
      (l) => l.msg === (options.startedMessage ?? "sessiond started"),
      options.startTimeoutMs,
    );
    const address = (started.address ?? (await proc.waitForLog((l) => l.msg === "sessiond started")).address) as string;
    return Object.assign(proc, { address });
  } catch (err) {
    // A process that did not start must not outlive the test (it would keep mocha from exiting).
    proc.child.kill("SIGKILL");
    await proc.exited;
    throw err;
  }
}

type Methods = typeof SessionService.method;

/** SessionClient is a plain grpc-js client of sessiond.v1.SessionService. */
export interface SessionClient {
  /** call makes a unary call; `deadline` ends it with DEADLINE_EXCEEDED when it passes. */
  call<K extends Exclude<keyof Methods, "transaction">>(
    method: K,
    request: MessageInitShape<Methods[K]["input"]>,
    deadline?: Date,
  ): Promise<MessageShape<Methods[K]["output"]>>;
  /** stream opens a Transaction stream; `deadline` ends it with DEADLINE_EXCEEDED when it passes. */
  stream(deadline?: Date): TransactionStreamDriver;
  close(): void;
}

const RawClient = makeGenericClientConstructor(createServiceDefinition(SessionService), "SessionService");

/** connectSessionClient connects to address; options are grpc-js channel options. */
export function connectSessionClient(address: string, options: Record<string, number | string> = {}): SessionClient {
  const client = new RawClient(address, credentials.createInsecure(), options) as Client &
    Record<string, (...args: unknown[]) => unknown>;
  return {
    call: (method, request, deadline) =>
      new Promise((resolve, reject) => {
        const message = create(SessionService.method[method].input, request as never);
        const done = (err: ServiceError | null, res: never) => (err ? reject(err) : resolve(res));
        if (deadline === undefined) client[method]!(message, done);
        else client[method]!(message, { deadline }, done);
      }),
    stream: (deadline) =>
      new TransactionStreamDriver(
        client.transaction!(...(deadline === undefined ? [] : [{ deadline }])) as ClientDuplexStream<
          TransactionRequest,
          TransactionResponse
        >,
      ),
    close: () => client.close(),
  };
}
