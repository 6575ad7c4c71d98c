import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  type Client,
  type ClientDuplexStream,
  credentials,
  makeGenericClientConstructor,
  type ServiceError,
} from "@grpc/grpc-js";
import { type Logger, pino } from "pino";
import {
  SessionService,
  type TransactionRequest,
  TransactionRequestSchema,
  type TransactionResponse,
} from "../../gen/sessiond/v1/session_service_pb.js";
import { createServiceDefinition } from "../../rpc/service-definition.js";
import type { CoreOptions } from "../../server/core/options.js";
import { createSessionCore } from "../../server/core/session-core.js";
import {
  createSessionServer,
  type ServerSecurity,
  type SessionServer,
  type SessionServerOptions,
} from "../../server/grpc/session-server.js";
import type { DataKeySource } from "../../server/store/data-keys.js";
import { createMemcachedStore } from "../../server/store/memcached-store.js";
import { createMemoryStore } from "../../server/store/memory-store.js";
import { createSealedStore } from "../../server/store/sealed-store.js";
import type { Store } from "../../server/store/store.js";

const definition = createServiceDefinition(SessionService);
const RawClient = makeGenericClientConstructor(definition, "SessionService");

type Methods = typeof SessionService.method;
type Req<K extends keyof Methods> = MessageInitShape<Methods[K]["input"]>;
type Res<K extends keyof Methods> = import("@bufbuild/protobuf").MessageShape<Methods[K]["output"]>;

/** RunningSessiond is a sessiond served in this process on a free loopback port, and a raw client of it. */
export interface RunningSessiond {
  address: string;
  port: number;
  server: SessionServer;
  store: Store;
  /** call makes one unary call with the raw grpc-js client (plain gRPC, as any language would). */
  call<K extends Exclude<keyof Methods, "transaction">>(method: K, request: Req<K>): Promise<Res<K>>;
  /** stream opens a Transaction stream. */
  stream(): TransactionStreamDriver;
  stop(): Promise<void>;
}

/**
 * startSessiond serves sessiond on 127.0.0.1:0 (or `listen`'s host, port 0) over memcached servers (or the
 * memory store when none), sealed with `dataKeys` when given; `security` sets TLS and access control;
 * `logger` defaults to a silent one (SESSIOND_TEST_LOG sets its level). The raw client is plaintext, over
 * loopback; `port` is the port bound.
 */
export async function startSessiond(
  options: {
    memcached?: string[];
    core?: Partial<CoreOptions>;
    server?: Partial<SessionServerOptions>;
    security?: ServerSecurity;
    dataKeys?: DataKeySource;
    logger?: Logger;
    listen?: string;
  } = {},
): Promise<RunningSessiond> {
  const logger = options.logger ?? pino({ level: process.env.SESSIOND_TEST_LOG ?? "silent" });
  const unsealed = options.memcached ? createMemcachedStore({ servers: options.memcached, logger }) : createMemoryStore();
  const store = options.dataKeys ? createSealedStore(unsealed, options.dataKeys, logger) : unsealed;
  const core = createSessionCore(store, options.core, logger);
  const server = createSessionServer(core, logger, options.server, options.security);
  const port = await server.listen(options.listen ?? "127.0.0.1:0");
  const address = `127.0.0.1:${port}`;
  const client = new RawClient(address, credentials.createInsecure()) as Client & Record<string, (...args: unknown[]) => unknown>;
  return {
    address,
    port,
    server,
    store,
    call: (method, request) =>
      new Promise((resolve, reject) => {
        const schema = SessionService.method[method].input;
        client[method]!(create(schema, request as never), (err: ServiceError | null, res: never) =>
          err ? reject(err) : resolve(res),
        );
      }),
    stream: () =>
      new TransactionStreamDriver(client.transaction!() as ClientDuplexStream<TransactionRequest, TransactionResponse>),
    async stop() {
      client.close();
      await server.shutdown(1000);
      await store.close();
    },
  };
}

/**
 * TransactionStreamDriver sends ops on a Transaction stream and hands back the responses in order.
 * `send` resolves with the response to that op (the stream answers one response per request, in order).
 */
export class TransactionStreamDriver {
  private readonly waiting: Array<{ resolve: (r: TransactionResponse) => void; reject: (e: Error) => void }> = [];
  /** status is the stream's final status once it ended (code 0 = OK). */
  ended: Promise<{ code: number; details: string }>;

  constructor(readonly call: ClientDuplexStream<TransactionRequest, TransactionResponse>) {
    call.on("data", (res: TransactionResponse) => this.waiting.shift()?.resolve(res));
    this.ended = new Promise((resolve) => {
      call.on("status", (s) => {
        for (const w of this.waiting.splice(0)) w.reject(new Error(`stream ended: ${s.code} ${s.details}`));
        resolve({ code: s.code, details: s.details });
      });
      call.on("error", () => {});
    });
  }

  /** send writes one op and resolves with its response. */
  send(op: MessageInitShape<typeof TransactionRequestSchema>["op"]): Promise<TransactionResponse> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.call.write(create(TransactionRequestSchema, { op } as never));
    });
  }

  /** end half-closes the stream and waits for its status. */
  async end() {
    this.call.end();
    return this.ended;
  }
}

/** op builds the `op` of a TransactionRequest: op("set", { package: "p", data: {...} }). */
export function op<C extends NonNullable<TransactionRequest["op"]["case"]>>(
  kind: C,
  value: object = {},
): MessageInitShape<typeof TransactionRequestSchema>["op"] {
  return { case: kind, value } as never;
}
