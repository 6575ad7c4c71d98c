// A stand-in for grpcurl, which cannot be installed here: it learns a server's API only through server
// reflection, the way grpcurl does (list services, file_containing_symbol, then file_by_filename for every
// import not yet known), builds descriptors from what it got, and calls methods with JSON in and out.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import {
  create,
  createFileRegistry,
  type DescMethod,
  type FileRegistry,
  fromBinary,
  fromJson,
  type JsonValue,
  toBinary,
  toJson,
} from "@bufbuild/protobuf";
import { type FileDescriptorProto, FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import {
  type ChannelCredentials,
  Client,
  type ClientDuplexStream,
  credentials,
  loadPackageDefinition,
  type ServiceError,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";

/** ReflectionVersion is the reflection API asked: grpcurl tries v1, older ones v1alpha. */
export type ReflectionVersion = "v1" | "v1alpha";

const reflectionRoot = join(dirname(createRequire(import.meta.url).resolve("@grpc/reflection/package.json")), "build", "proto");

interface ReflectionResponse {
  messageResponse: "fileDescriptorResponse" | "listServicesResponse" | "errorResponse" | string;
  fileDescriptorResponse?: { fileDescriptorProto: number[][] };
  listServicesResponse?: { service: Array<{ name: string }> };
  errorResponse?: { errorCode: number; errorMessage: string };
}

/** ReflectionClient asks one request at a time on one ServerReflectionInfo stream. */
export interface ReflectionClient {
  listServices(): Promise<string[]>;
  fileContainingSymbol(symbol: string): Promise<FileDescriptorProto[]>;
  fileByFilename(name: string): Promise<FileDescriptorProto[]>;
  close(): void;
}

/** connectReflection opens a raw reflection stream (v1 or v1alpha) to address. */
export function connectReflection(address: string, version: ReflectionVersion): ReflectionClient {
  const definition = loadSync(`grpc/reflection/${version}/reflection.proto`, {
    includeDirs: [reflectionRoot],
    longs: String,
    enums: String,
    bytes: Array,
    defaults: true,
    oneofs: true,
  });
  type RawReflectionClient = Client & { ServerReflectionInfo(): ClientDuplexStream<object, ReflectionResponse> };
  const pkg = loadPackageDefinition(definition) as unknown as {
    grpc: {
      reflection: Record<string, { ServerReflection: new (address: string, creds: ChannelCredentials) => RawReflectionClient }>;
    };
  };
  const ServerReflection = pkg.grpc.reflection[version]!.ServerReflection;
  const client = new ServerReflection(address, credentials.createInsecure());
  const stream = client.ServerReflectionInfo() as ClientDuplexStream<object, ReflectionResponse>;
  const waiting: Array<{ resolve: (r: ReflectionResponse) => void; reject: (e: Error) => void }> = [];
  stream.on("data", (r: ReflectionResponse) => waiting.shift()?.resolve(r));
  stream.on("error", (err) => {
    for (const w of waiting.splice(0)) w.reject(err);
  });
  const ask = (request: object) =>
    new Promise<ReflectionResponse>((resolve, reject) => {
      waiting.push({ resolve, reject });
      stream.write(request);
    });
  const files = async (request: object) => {
    const r = await ask(request);
    if (r.messageResponse !== "fileDescriptorResponse") {
      throw new Error(`reflection answered ${r.messageResponse}: ${r.errorResponse?.errorCode} ${r.errorResponse?.errorMessage}`);
    }
    return r.fileDescriptorResponse!.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, Uint8Array.from(b)));
  };
  return {
    async listServices() {
      const r = await ask({ listServices: "" });
      return r.listServicesResponse!.service.map((s) => s.name);
    },
    fileContainingSymbol: (symbol) => files({ fileContainingSymbol: symbol }),
    fileByFilename: (name) => files({ fileByFilename: name }),
    close() {
      stream.end();
      client.close();
    },
  };
}

/** Resolved is what grpcurl knows after reflection: a registry, and the file names it had to ask for. */
export interface Resolved {
  registry: FileRegistry;
  /** askedByName lists the files fetched with file_by_filename (imports the first answer lacked). */
  askedByName: string[];
  /** files are every file known, by name. */
  files: Map<string, FileDescriptorProto>;
}

/**
 * resolveSymbol does what grpcurl does before `describe` or a call: file_containing_symbol, then
 * file_by_filename for each import not known yet, transitively; then builds descriptors from them
 * (which fails if any import or type cannot be resolved).
 */
export async function resolveSymbol(reflection: ReflectionClient, symbol: string): Promise<Resolved> {
  const files = new Map<string, FileDescriptorProto>();
  const askedByName: string[] = [];
  const add = (list: FileDescriptorProto[]) => {
    for (const f of list) files.set(f.name, f);
  };
  add(await reflection.fileContainingSymbol(symbol));
  for (let missing = imports(files); missing.length > 0; missing = imports(files)) {
    for (const name of missing) {
      askedByName.push(name);
      const got = await reflection.fileByFilename(name);
      if (!got.some((f) => f.name === name)) throw new Error(`file_by_filename ${name} did not answer that file`);
      add(got);
    }
  }
  const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: importsFirst(files) }));
  return { registry, askedByName, files };
}

function importsFirst(files: Map<string, FileDescriptorProto>): FileDescriptorProto[] {
  const ordered: FileDescriptorProto[] = [];
  const visit = (f: FileDescriptorProto) => {
    if (ordered.includes(f)) return;
    for (const dep of f.dependency) visit(files.get(dep)!);
    ordered.push(f);
  };
  files.forEach(visit);
  return ordered;
}

function imports(files: Map<string, FileDescriptorProto>): string[] {
  return [...new Set([...files.values()].flatMap((f) => f.dependency))].filter((name) => !files.has(name));
}

/** method finds "pkg.Service/Method" (grpcurl's notation) in a registry. */
export function findMethod(registry: FileRegistry, fullName: string): DescMethod {
  const [serviceName, methodName] = fullName.split("/");
  const service = registry.getService(serviceName!);
  const method = service?.methods.find((m) => m.name === methodName);
  if (!method) throw new Error(`${fullName} not found through reflection`);
  return method;
}

/**
 * invoke calls a method as grpcurl does with `-d`: requests are JSON (grpcurl's -d text, one or many
 * messages), converted with the descriptors reflection gave; answers come back as JSON. For a bidi
 * stream, `onResponse` may answer with the next request (grpcurl typed into interactively); else all
 * requests are sent at once, then the stream is half-closed.
 */
export function invoke(
  address: string,
  method: DescMethod,
  requests: JsonValue[],
  onResponse?: (response: JsonValue, index: number) => JsonValue | undefined,
): Promise<JsonValue[]> {
  const client = new Client(address, credentials.createInsecure());
  const path = `/${method.parent.typeName}/${method.name}`;
  const serialize = (json: JsonValue) => Buffer.from(toBinary(method.input, fromJson(method.input, json)));
  const deserialize = (bytes: Buffer) => toJson(method.output, fromBinary(method.output, bytes)) as JsonValue;
  return new Promise((resolve, reject) => {
    if (method.methodKind === "unary") {
      client.makeUnaryRequest(path, serialize, deserialize, requests[0]!, (err: ServiceError | null, res?: JsonValue) => {
        client.close();
        if (err) reject(err);
        else resolve([res!]);
      });
      return;
    }
    const responses: JsonValue[] = [];
    const call = client.makeBidiStreamRequest(path, serialize, deserialize);
    call.on("data", (res: JsonValue) => {
      responses.push(res);
      if (onResponse) {
        const next = onResponse(res, responses.length - 1);
        if (next === undefined) call.end();
        else call.write(next);
      }
    });
    call.on("error", (err) => {
      client.close();
      reject(err);
    });
    call.on("end", () => {
      client.close();
      resolve(responses);
    });
    if (onResponse) {
      call.write(requests[0]!);
    } else {
      for (const r of requests) call.write(r);
      call.end();
    }
  });
}
