/**
 * The client's reconnect loop against the real server, through a proxy
 * the test cuts: the session resumes, every message arrives once and in
 * order, and the application is told.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { ACK_EVERY_MS, type Value, type WebSocketConstructor, connect, decode, encode } from "../src/index.js";
import { type CuttingProxy, startProxy } from "./proxy.js";
import { type TestServer, startServer } from "./server.js";

let server: TestServer;
let proxy: CuttingProxy;

beforeAll(async () => {
  server = await startServer();
  proxy = await startProxy(server.url);
});

afterAll(async () => {
  await proxy?.stop();
  await server?.stop();
});

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe("reconnection", () => {
  it("resumes after each cut and delivers every message once, in order", async () => {
    const alice = await connect(proxy.url, { reconnect: { firstDelayMs: 20 } });
    const bob = await connect(server.url);
    const room = await alice.createRoom();
    const aliceRoom = await alice.join(room.id);
    const bobRoom = await bob.join(room.id);
    const heard: Value[] = [];
    aliceRoom.on("message", (data) => heard.push(data));
    let reconnected = 0;
    alice.on("reconnected", () => (reconnected += 1));
    const lost: string[] = [];
    alice.on("lost", (reason) => lost.push(reason));

    const talking = (async () => {
      for (let n = 0; n < 100; n += 1) {
        await bobRoom.send(n);
        await sleep(20);
      }
    })();
    for (let cut = 0; cut < 5; cut += 1) {
      await sleep(300);
      proxy.cut();
    }
    await talking;
    const deadline = Date.now() + 10_000;
    while (heard.length < 100 && Date.now() < deadline) await sleep(50);
    expect(lost).toEqual([]);
    expect(heard).toEqual([...Array(100).keys()]);
    expect(reconnected).toBeGreaterThanOrEqual(4);
    // Still the same session, in the room, answering requests.
    expect((await alice.roomInfo(room.id)).members).toBe(2);
    const left = new Promise<unknown[]>((resolve) => bobRoom.once("member_left", (...args) => resolve(args)));
    await alice.close();
    expect(await left).toEqual([alice.session, "left"]);
    await bob.close();
  });

  it("tells the others a member dropped and came back", async () => {
    const alice = await connect(proxy.url, { reconnect: { firstDelayMs: 20 } });
    const bob = await connect(server.url);
    const room = await bob.createRoom();
    const bobRoom = await bob.join(room.id);
    await alice.join(room.id);
    const dropped = new Promise((resolve) => bobRoom.once("member_disconnected", resolve));
    const back = new Promise((resolve) => bobRoom.once("member_reconnected", resolve));
    proxy.cut();
    expect(await dropped).toEqual(alice.session);
    expect(await back).toEqual(alice.session);
    await alice.close();
    await bob.close();
  });

  it("acknowledges what it handled, so the server lets it go", async () => {
    // The real `ws` socket, with the ops it sends written down.
    const sent: Record<string, unknown>[] = [];
    class Recording extends WebSocket {
      override send(data: Uint8Array): void {
        sent.push(decode(data) as Record<string, unknown>);
        super.send(data);
      }
    }
    const alice = await connect(proxy.url, { WebSocket: Recording as unknown as WebSocketConstructor, reconnect: false });
    const refused: string[] = [];
    alice.on("error", (error) => refused.push(error.code));
    const bob = await connect(server.url);
    const room = await bob.createRoom();
    const bobRoom = await bob.join(room.id);
    const aliceRoom = await alice.join(room.id);
    let heard = 0;
    aliceRoom.on("message", () => (heard += 1));
    for (let n = 0; n < 5; n += 1) await bobRoom.send(n);
    while (heard < 5) await sleep(10);
    await sleep(ACK_EVERY_MS * 2);
    const acks = sent.filter((message) => message["op"] === "ack").map((message) => Number(message["seq"]));
    // It was sent the join's answer and the five messages, at least, and
    // the server took every ack (one past what it sent is an error).
    expect(acks.length).toBeGreaterThan(0);
    expect(acks.at(-1)).toBeGreaterThanOrEqual(6);
    expect(refused).toEqual([]);

    // The connection drops; a resume from before the ack finds the
    // acknowledged frames gone (a resync), where it would otherwise have
    // had every frame replayed.
    const token = alice.welcome.resumeToken;
    proxy.cut();
    let resumed = await resumeRaw(server.url, token, 0);
    for (let tries = 0; resumed.answer["code"] === "session_in_use" && tries < 100; tries += 1) {
      resumed.socket.close();
      await sleep(20);
      resumed = await resumeRaw(server.url, token, 0);
    }
    const { answer, socket: raw } = resumed;
    expect(answer["type"]).toBe("response");
    expect((answer["result"] as Record<string, unknown>)["resync"]).toBe(true);
    raw.send(encode({ id: 2, op: "close_session" }));
    raw.close();
    await bob.close();
  });
});

/** Opens a WebSocket to `url` and sends `resume` as its first request; resolves with the answer. */
async function resumeRaw(
  url: string,
  token: string | undefined,
  lastSeq: number,
): Promise<{ socket: WebSocket; answer: Record<string, unknown> }> {
  const socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  const answer = new Promise<Record<string, unknown>>((resolve) => {
    socket.on("message", (data: ArrayBuffer) => {
      const frame = decode(new Uint8Array(data)) as Record<string, unknown>;
      if (frame["type"] !== "welcome") resolve(frame);
    });
  });
  await new Promise((opened) => socket.once("open", opened));
  socket.send(encode({ id: 1, op: "resume", token, last_seq: lastSeq }));
  return { socket, answer: await answer };
}
