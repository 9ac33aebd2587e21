/**
 * The client's reconnect loop against the real server, through a proxy
 * the test cuts: the session resumes, every message arrives once and in
 * order, and the application is told.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Value, connect } from "../src/index.js";
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
});
