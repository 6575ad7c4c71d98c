import type { DescMessage, DescMethod, DescService, MessageShape } from "@bufbuild/protobuf";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";

/**
 * GrpcServiceDefinition is the grpc-js service definition made from a generated protobuf-es service:
 * one entry per method, keyed by the method's localName (e.g. `createSession`, `transaction`), typed with
 * the generated request and response message types.
 */
export type GrpcServiceDefinition<T extends GenServiceMethods> = ServiceDefinition & {
  [K in keyof T]: MethodDefinition<MessageShape<T[K]["input"]>, MessageShape<T[K]["output"]>>;
};

/**
 * createServiceDefinition turns a generated protobuf-es service descriptor into a grpc-js
 * ServiceDefinition: the path is `/${service.typeName}/${method.name}`, messages (de)serialize with
 * protobuf-es `toBinary`/`fromBinary`. protobuf-es generates no grpc-js code (protobuf-es #252); the server
 * and the client SDK both build on this one adapter.
 */
export function createServiceDefinition<T extends GenServiceMethods>(service: GenService<T>): GrpcServiceDefinition<T> {
  const definition: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const method of (service as DescService).methods) {
    definition[method.localName] = methodDefinition(service as DescService, method);
  }
  return definition as GrpcServiceDefinition<T>;
}

function methodDefinition(service: DescService, method: DescMethod): MethodDefinition<unknown, unknown> {
  const input = serializers(method.input);
  const output = serializers(method.output);
  return {
    path: `/${service.typeName}/${method.name}`,
    requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
    responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
    requestSerialize: input.serialize,
    requestDeserialize: input.deserialize,
    responseSerialize: output.serialize,
    responseDeserialize: output.deserialize,
    originalName: method.localName,
  };
}

function serializers<Desc extends DescMessage>(schema: Desc) {
  return {
    serialize: (message: unknown): Buffer => {
      const bytes = toBinary(schema, message as MessageShape<Desc>);
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
    deserialize: (bytes: Buffer): unknown => fromBinary(schema, bytes),
  };
}
