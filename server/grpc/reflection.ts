import { type DescFile, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { Server } from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import { file_sessiond_v1_session_service } from "../../gen/sessiond/v1/session_service_pb.js";
import { healthFileDescriptor } from "./health-descriptor.js";

/** REFLECTED_SERVICES are the services reflection lists (grpcurl `list`). */
export const REFLECTED_SERVICES = ["sessiond.v1.SessionService", "grpc.health.v1.Health"] as const;

/**
 * descriptorClosure returns a generated file and every file it imports, transitively, imports first, as
 * serialized FileDescriptorProtos: the real files, each under its own name with its imports intact, so a
 * client can resolve each by name and follow every import (google/protobuf/struct.proto, timestamp.proto).
 */
export function descriptorClosure(file: DescFile): Uint8Array[] {
  const seen = new Set<string>();
  const ordered: Uint8Array[] = [];
  const visit = (f: DescFile) => {
    if (seen.has(f.proto.name)) return;
    seen.add(f.proto.name);
    for (const dep of f.dependencies) visit(dep);
    ordered.push(toBinary(FileDescriptorProtoSchema, f.proto));
  };
  visit(file);
  return ordered;
}

/**
 * createReflectionService makes gRPC server reflection, v1 and v1alpha (@grpc/reflection), over the real
 * descriptors: sessiond/v1/session_service.proto with its imports, as generated (never proto-loader, which
 * re-packs files by package and drops imports: grpcurl then fails on Struct and Timestamp), and
 * grpc/health/v1/health.proto (health-descriptor.ts). It lists
 * REFLECTED_SERVICES and answers file_by_filename, file_containing_symbol and the rest as grpcurl asks.
 */
export function createReflectionService(): ReflectionService {
  const fileDescriptorProtos = [
    ...descriptorClosure(file_sessiond_v1_session_service),
    toBinary(FileDescriptorProtoSchema, healthFileDescriptor()),
  ];
  // @grpc/reflection reads only `fileDescriptorProtos` of each entry of a proto-loader PackageDefinition.
  const definition = { "sessiond.v1": { fileDescriptorProtos } } as unknown as ConstructorParameters<typeof ReflectionService>[0];
  return new ReflectionService(definition, { services: [...REFLECTED_SERVICES] });
}

/** addReflection registers reflection v1 and v1alpha (see createReflectionService) on a grpc-js server. */
export function addReflection(server: Server): void {
  createReflectionService().addToServer(server);
}
