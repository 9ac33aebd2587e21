/**
 * Starts the real server binary for the tests, on free ports of
 * 127.0.0.1, and stops it.
 *
 * `VAMPIRE_BIN` names the binary (default: the workspace's debug build)
 * and `VAMPIRE_PLUGINS` a folder of built plugins (default: the
 * workspace's `plugins/`, where `cargo xtask plugins` puts them).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";

const here = new URL(".", import.meta.url).pathname;

/** A running server: its WebSocket URL, its TCP address, and how to stop it. */
export interface TestServer {
  url: string;
  tcp: string;
  stop(): Promise<void>;
}

/** Starts a server whose config is the defaults plus `overrides` (top-level keys; `limits` merged). */
export async function startServer(overrides: Record<string, unknown> = {}): Promise<TestServer> {
  const binary = process.env["VAMPIRE_BIN"] ?? resolve(here, "../../target/debug/vampiretcp");
  const plugins = process.env["VAMPIRE_PLUGINS"] ?? resolve(here, "../../plugins");
  const dir = mkdtempSync(join(tmpdir(), "vampire-ts-"));
  const limits = { requestsPerSecond: 100_000, requestBurst: 100_000, ...((overrides["limits"] as object) ?? {}) };
  const config = {
    bindAddress: "127.0.0.1",
    tcpPort: 0,
    udpPort: 0,
    wsPort: 0,
    pluginsDir: plugins,
    hotReload: false,
    logLevel: "warn",
    ...overrides,
    limits,
  };
  const configFile = join(dir, "server.json");
  writeFileSync(configFile, JSON.stringify(config));
  const child: ChildProcess = spawn(binary, ["--config", configFile], { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! });
  let tcp = "";
  const url = await new Promise<string>((resolveUrl, reject) => {
    child.once("exit", (code) => reject(new Error(`the server exited (${code}) before listening`)));
    lines.on("line", (line) => {
      if (line.startsWith("listening on ")) tcp = line.slice("listening on ".length);
      if (line.startsWith("websocket listening on ")) {
        resolveUrl(`ws://${line.slice("websocket listening on ".length)}/`);
      }
    });
  });
  return {
    url,
    tcp,
    stop: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null) return done();
        child.once("exit", () => done());
        child.kill("SIGTERM");
      }),
  };
}
