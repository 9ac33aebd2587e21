/**
 * A real Redis server for the cluster tests (Debian's `redis-server`),
 * on a free port of 127.0.0.1, with nothing saved to disk.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createConnection, createServer } from "node:net";

export interface TestRedis {
  /** `redis://127.0.0.1:PORT`. */
  url: string;
  stop(): Promise<void>;
}

/** A port of 127.0.0.1 free now. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((listening) => probe.listen(0, "127.0.0.1", listening));
  const { port } = probe.address() as { port: number };
  await new Promise((closed) => probe.close(closed));
  return port;
}

/** Starts `redis-server` and resolves once it answers `PING`. @throws when it is not installed or does not start. */
export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: "ignore" },
  );
  const failed = new Promise<never>((_, reject) => {
    child.once("error", () => reject(new Error("redis-server runs (install Debian's redis-server package; .ci/run does)")));
  });
  const deadline = Date.now() + 10_000;
  while (!(await Promise.race([pong(port), failed]))) {
    if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}`);
    await new Promise((later) => setTimeout(later, 20));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null) return done();
        child.once("exit", () => done());
        child.kill("SIGKILL");
      }),
  };
}

/** Whether a Redis on `port` answers `PING`. */
function pong(port: number): Promise<boolean> {
  return new Promise((answered) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("error", () => answered(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (data) => {
      answered(data.toString() === "+PONG\r\n");
      socket.destroy();
    });
  });
}
