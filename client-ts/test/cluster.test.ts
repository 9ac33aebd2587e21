/**
 * The client in a cluster of two real nodes sharing a real Redis: a join
 * of a room on the other node follows the redirect over WebSocket, and a
 * session resumed on the wrong node follows the redirect to its own.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Value, connect } from "../src/index.js";
import { type CuttingProxy, startProxy } from "./proxy.js";
import { type TestRedis, freePort, startRedis } from "./redis.js";
import { type TestServer, startServer } from "./server.js";

let redis: TestRedis;
let a: TestServer;
let b: TestServer;

/** Node `id`, advertising its TCP and WebSocket ports. */
async function node(id: string): Promise<TestServer> {
  const [tcpPort, wsPort] = [await freePort(), await freePort()];
  return startServer({
    tcpPort,
    wsPort,
    cluster: {
      redisUrl: redis.url,
      advertiseAddress: `127.0.0.1:${tcpPort}`,
      advertiseWsAddress: `127.0.0.1:${wsPort}`,
      nodeId: id,
    },
  });
}

beforeAll(async () => {
  redis = await startRedis();
  a = await node("a");
  b = await node("b");
});

afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await redis?.stop();
});

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe("cluster", () => {
  it("joins a room of another node through a connection to it", async () => {
    const bob = await connect(b.url);
    // Loads are even: the room goes to the node asked.
    const room = await bob.createRoom({ autoDispose: false });
    expect(room.id.startsWith("b-")).toBe(true);
    const bobRoom = await bob.join(room.id);
    const alice = await connect(a.url);
    const aliceRoom = await alice.join(room.id);
    expect(alice.rooms.get(room.id)).toBe(aliceRoom);
    expect(aliceRoom.members.size).toBe(2);

    const aliceHeard = new Promise<Value>((resolve) => aliceRoom.once("message", resolve));
    const bobHeard = new Promise<Value>((resolve) => bobRoom.on("message", (data, from) => from !== bob.session && resolve(data)));
    await bobRoom.send("from b");
    expect(await aliceHeard).toBe("from b");
    await aliceRoom.send("from a");
    expect(await bobHeard).toBe("from a");

    const left = new Promise((resolve) => bobRoom.once("member_left", resolve));
    await alice.close();
    await left;
    expect(aliceRoom.joined).toBe(false);
    await bob.close();
  });

  it("resumes on the node that holds the session when the balancer sent it elsewhere", async () => {
    const balancer: CuttingProxy = await startProxy(a.url);
    try {
      const alice = await connect(balancer.url, { reconnect: { firstDelayMs: 20 } });
      const bob = await connect(a.url);
      const room = await bob.createRoom({ autoDispose: false });
      expect(room.id.startsWith("a-")).toBe(true);
      const bobRoom = await bob.join(room.id);
      const aliceRoom = await alice.join(room.id);
      const heard: Value[] = [];
      aliceRoom.on("message", (data) => heard.push(data));
      const lost: string[] = [];
      alice.on("lost", (reason) => lost.push(reason));
      let reconnected = 0;
      alice.on("reconnected", () => (reconnected += 1));

      for (let n = 0; n < 20; n += 1) {
        if (n === 8) {
          // The balancer now sends new connections to b, which does not
          // hold alice's session.
          balancer.retarget(b.url);
          balancer.cut();
        }
        await bobRoom.send(n);
        await sleep(20);
      }
      const deadline = Date.now() + 10_000;
      while (heard.length < 20 && Date.now() < deadline) await sleep(50);
      expect(lost).toEqual([]);
      expect(reconnected).toBe(1);
      expect(heard).toEqual([...Array(20).keys()]);
      await alice.close();
      await bob.close();
    } finally {
      await balancer.stop();
    }
  });

  // Last: the room it creates changes the nodes' loads.
  it("joins or creates across the nodes, following the redirect", async () => {
    const tag = `c${Date.now()}`;
    const bob = await connect(b.url);
    const first = await bob.joinOrCreate({ filters: { tag }, maxClients: 4 });
    expect(first.created).toBe(true);
    const alice = await connect(a.url);
    const second = await alice.joinOrCreate({ filters: { tag }, maxClients: 4 });
    expect(second.created).toBe(false);
    expect(second.room.id).toBe(first.room.id);
    expect(second.room.members.size).toBe(2);
    await alice.close();
    await bob.close();
  });
});
