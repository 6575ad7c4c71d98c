/**
 * isLoopbackHost says whether a host name or address is this machine's loopback: "localhost", 127.0.0.0/8,
 * ::1, or 127.0.0.0/8 mapped into IPv6 (::ffff:127.x.y.z, as a dual-stack socket reports an IPv4 peer).
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  if (bare === "localhost" || bare === "::1" || bare === "0:0:0:0:0:0:0:1") return true;
  return /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

/**
 * isLoopbackPeer says whether a caller's address, as grpc-js's `call.getPeer()` gives it ("127.0.0.1:5301",
 * "::1:5301", "::ffff:127.0.0.1:5301", "[::1]:5301"), is on loopback. Anything it cannot read, such as
 * "unknown" (no socket address), is not: protected mode fails closed.
 */
export function isLoopbackPeer(peer: string): boolean {
  return isLoopbackHost(peer.replace(/:\d{1,5}$/, ""));
}
