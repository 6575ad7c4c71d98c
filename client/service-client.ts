import type { MessageShape } from "@bufbuild/protobuf";
import {
  type Client,
  InterceptingCall,
  type Interceptor,
  type MethodDefinition,
  makeGenericClientConstructor,
} from "@grpc/grpc-js";
import { SessionService } from "../gen/sessiond/v1/session_service_pb.js";
import { createServiceDefinition } from "../rpc/service-definition.js";
import type { ClientSettings } from "./options.js";
import { traceContextInterceptor } from "./trace-context.js";

/**
 * definition (internal) is the grpc-js service definition of sessiond.v1.SessionService, made by the same
 * adapter the server serves (generated protobuf-es schemas, toBinary/fromBinary): no second serializer.
 */
export const definition = createServiceDefinition(SessionService);

const SessionServiceClient = makeGenericClientConstructor(definition, "SessionService");

/** Methods are the service's methods by localName (`get`, `set`, ..., `transaction`) (internal). */
export type Methods = typeof SessionService.method;

/** UnaryMethod names the unary methods (internal). */
export type UnaryMethod = Exclude<keyof Methods, "transaction">;

/** MethodDef is the typed grpc-js definition of one method (internal). */
export type MethodDef<K extends keyof Methods> = MethodDefinition<
  MessageShape<Methods[K]["input"]>,
  MessageShape<Methods[K]["output"]>
>;

/**
 * createServiceClient opens a grpc-js client (one channel) of SessionService at `address`; every call carries
 * the caller's OpenTelemetry context when there is one (see trace-context.ts) (internal).
 */
export function createServiceClient(address: string, settings: ClientSettings): Client {
  const { interceptors = [], ...channelOptions } = settings.channelOptions as { interceptors?: Interceptor[] };
  const { token } = settings;
  return new SessionServiceClient(address, settings.credentials, {
    ...channelOptions,
    interceptors: [traceContextInterceptor, ...(token === undefined ? [] : [bearer(token)]), ...interceptors],
  });
}

/** bearer (internal) adds `authorization: Bearer <token>` to every call, unary or stream, asking `token` each time. */
function bearer(token: () => string): Interceptor {
  return (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set("authorization", `Bearer ${token()}`);
        next(metadata, listener);
      },
    });
}
