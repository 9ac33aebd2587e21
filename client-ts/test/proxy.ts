/**
 * A TCP relay between a client and the real server that a test can
 * sever (every connection through it ends at once): the network failing
 * on the test's word, real sockets both sides.
 */
import { type Server, type Socket, createConnection, createServer } from "node:net";

export interface CuttingProxy {
  /** `ws://127.0.0.1:PORT/`, relaying to the server's WebSocket port. */
  url: string;
  /** Ends every connection through the proxy now; new ones are relayed. */
  cut(): void;
  /** Relays new connections to `target` (`ws://host:port/`) from now on, as a load balancer may. */
  retarget(target: string): void;
  stop(): Promise<void>;
}

/** Relays from a free port to `target` (`ws://host:port/`). */
export async function startProxy(target: string): Promise<CuttingProxy> {
  let to = new URL(target);
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: to.hostname, port: Number(to.port) });
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.setNoDelay(true);
      socket.on("close", () => open.delete(socket));
      socket.on("error", () => socket.destroy());
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
  const address = server.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${address.port}/`,
    cut: () => {
      for (const socket of open) socket.destroy();
    },
    retarget: (target) => {
      to = new URL(target);
    },
    stop: () =>
      new Promise<void>((done) => {
        for (const socket of open) socket.destroy();
        server.close(() => done());
      }),
  };
}
