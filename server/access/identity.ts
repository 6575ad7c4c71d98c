import type { PeerCertificate } from "node:tls";
import { type Metadata, status } from "@grpc/grpc-js";
import type { ErrorStatus } from "../grpc/status.js";
import { identifyToken, type TokenEntry } from "./tokens.js";

/** ANONYMOUS is the identity of a caller with neither a bearer token nor a client certificate. */
export const ANONYMOUS = "anonymous";

/** PeerAuth is what grpc-js's `call.getAuthContext()` tells of the connection (grpc-js 1.14+). */
export interface PeerAuth {
  transportSecurityType?: string;
  sslPeerCertificate?: PeerCertificate;
}

/** Caller is an authenticated caller: its identity and what proved it. */
export interface Caller {
  readonly identity: string;
  readonly via: "token" | "certificate" | "anonymous";
}

const BEARER = /^Bearer +([\x21-\x7e]+) *$/i;

/**
 * identifyCaller finds the caller's identity, in the contract's order: the identity of the bearer token in
 * the `authorization` metadata; else, on an mTLS connection, the client certificate's first URI SAN (e.g. a
 * SPIFFE id), else its first DNS SAN, else its subject CN; else "anonymous". A token that matches no entry,
 * or a malformed `authorization` value, is UNAUTHENTICATED even when a valid certificate is presented.
 * The token never appears in the returned message.
 */
export function identifyCaller(
  metadata: Metadata,
  auth: PeerAuth | null | undefined,
  tokens: readonly TokenEntry[],
): Caller | ErrorStatus {
  const values = metadata.get("authorization");
  if (values.length > 0) {
    const match = values.length === 1 && typeof values[0] === "string" ? BEARER.exec(values[0]) : null;
    if (match === null) {
      return {
        code: status.UNAUTHENTICATED,
        details: "malformed authorization metadata: send one `authorization: Bearer <token>`",
      };
    }
    const identity = identifyToken(tokens, match[1]!);
    if (identity === undefined) {
      return { code: status.UNAUTHENTICATED, details: "the bearer token matches no configured token: check the token" };
    }
    return { identity, via: "token" };
  }
  const identity = certificateIdentity(auth?.sslPeerCertificate);
  return identity === undefined ? { identity: ANONYMOUS, via: "anonymous" } : { identity, via: "certificate" };
}

/** certificateIdentity names a client certificate: its first URI SAN, else its first DNS SAN, else its CN. */
export function certificateIdentity(cert: PeerCertificate | undefined): string | undefined {
  if (cert === undefined || cert === null || Object.keys(cert).length === 0) return undefined;
  // Node lists SANs as one string, "DNS:a.example, URI:spiffe://td/ns/x"; a SAN value could hold ", ".
  const sans = (cert.subjectaltname ?? "").split(/, (?=[A-Za-z ]+:)/);
  const uri = sans.find((s) => s.startsWith("URI:"));
  if (uri !== undefined) return uri.slice(4);
  const dns = sans.find((s) => s.startsWith("DNS:"));
  if (dns !== undefined) return dns.slice(4);
  const cn = cert.subject?.CN;
  if (Array.isArray(cn)) return cn[0];
  return typeof cn === "string" && cn !== "" ? cn : undefined;
}
