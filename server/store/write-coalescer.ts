import type { Socket } from "node:net";

/**
 * WriteCoalescer gathers the memcached commands written to one socket while the event loop handles one
 * round of I/O, and sends them with one system call: the first write of a round corks the socket, and an
 * immediate (after that round) uncorks every socket it corked. memcache-client writes each command with its
 * own `socket.write`, which with Nagle off is one syscall per command, the largest single cost of a write
 * under load; memcached's text protocol lets any number of commands share one packet (pipelining), and it
 * answers them in order, so nothing else changes. Internal to server/store.
 */
export interface WriteCoalescer {
  /** writer returns memcache-client `send` data: a function that writes `data` to the command's socket. */
  writer(data: Buffer | string): (socket: Socket | undefined) => void;
}

/** createWriteCoalescer makes a coalescer; each memcached server's store has its own. */
export function createWriteCoalescer(): WriteCoalescer {
  const corked = new Set<Socket>();

  function uncorkAll(): void {
    for (const socket of corked) socket.uncork();
    corked.clear();
  }

  return {
    writer: (data) => (socket) => {
      if (socket === undefined) return; // memcache-client fails the command itself
      if (!corked.has(socket)) {
        if (corked.size === 0) setImmediate(uncorkAll);
        corked.add(socket);
        socket.cork();
      }
      socket.write(data);
    },
  };
}
