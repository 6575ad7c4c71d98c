import { create } from "@bufbuild/protobuf";
import {
  type FieldDescriptorProto,
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
} from "@bufbuild/protobuf/wkt";

/** HEALTH_PROTO_NAME is the name reflection gives health.proto: its name in the grpc repository. */
export const HEALTH_PROTO_NAME = "grpc/health/v1/health.proto";

const PKG = ".grpc.health.v1";

function field(name: string, jsonName: string, number: number, type: Type, typeName?: string, label = Label.OPTIONAL) {
  return {
    name,
    jsonName,
    number,
    type,
    label,
    ...(typeName === undefined ? {} : { typeName }),
  } satisfies Partial<FieldDescriptorProto>;
}

/**
 * healthFileDescriptor is grpc.health.v1's health.proto (the version grpc-health-check 2.1.0 serves:
 * Check, List, Watch) as the FileDescriptorProto protoc makes of it: fully-qualified type names, json names,
 * the `StatusesEntry` map entry. Built here because the one other source, proto-loader, writes relative
 * type names and a map entry named `Statuses`, which strict descriptor builders refuse. The reflection test
 * calls Health/Check through it against grpc-health-check's own implementation, so the two cannot drift.
 */
export function healthFileDescriptor(): FileDescriptorProto {
  return create(FileDescriptorProtoSchema, {
    name: HEALTH_PROTO_NAME,
    package: "grpc.health.v1",
    syntax: "proto3",
    messageType: [
      { name: "HealthCheckRequest", field: [field("service", "service", 1, Type.STRING)] },
      {
        name: "HealthCheckResponse",
        field: [field("status", "status", 1, Type.ENUM, `${PKG}.HealthCheckResponse.ServingStatus`)],
        enumType: [
          {
            name: "ServingStatus",
            value: [
              { name: "UNKNOWN", number: 0 },
              { name: "SERVING", number: 1 },
              { name: "NOT_SERVING", number: 2 },
              { name: "SERVICE_UNKNOWN", number: 3 },
            ],
          },
        ],
      },
      { name: "HealthListRequest" },
      {
        name: "HealthListResponse",
        field: [field("statuses", "statuses", 1, Type.MESSAGE, `${PKG}.HealthListResponse.StatusesEntry`, Label.REPEATED)],
        nestedType: [
          {
            name: "StatusesEntry",
            field: [field("key", "key", 1, Type.STRING), field("value", "value", 2, Type.MESSAGE, `${PKG}.HealthCheckResponse`)],
            options: { mapEntry: true },
          },
        ],
      },
    ],
    service: [
      {
        name: "Health",
        method: [
          { name: "Check", inputType: `${PKG}.HealthCheckRequest`, outputType: `${PKG}.HealthCheckResponse` },
          { name: "List", inputType: `${PKG}.HealthListRequest`, outputType: `${PKG}.HealthListResponse` },
          {
            name: "Watch",
            inputType: `${PKG}.HealthCheckRequest`,
            outputType: `${PKG}.HealthCheckResponse`,
            serverStreaming: true,
          },
        ],
      },
    ],
    options: {
      csharpNamespace: "Grpc.Health.V1",
      goPackage: "google.golang.org/grpc/health/grpc_health_v1",
      javaMultipleFiles: true,
      javaOuterClassname: "HealthProto",
      javaPackage: "io.grpc.health.v1",
    },
  });
}
