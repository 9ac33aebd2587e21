/**
 * The client against a real server binary over real WebSockets: every
 * operation, the errors, and values that must come back exactly.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExtData, type ListRoomsOptions, type Room, VampireError, type Value, connect } from "../src/index.js";
import { type TestServer, startServer } from "./server.js";

let server: TestServer;

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  await server?.stop();
});

/** Resolves with the next `event` of `room` (its arguments). */
function next<E extends "message" | "variable" | "member_joined" | "member_left">(
  room: Room,
  event: E,
): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} in time`)), 5000);
    room.once(event, ((...args: unknown[]) => {
      clearTimeout(timer);
      resolve(args);
    }) as never);
  });
}

async function failure(promise: Promise<unknown>): Promise<VampireError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(VampireError);
    return err as VampireError;
  }
  throw new Error("expected a failure");
}

describe("rooms", () => {
  it("creates, lists, joins, talks, leaves and deletes", async () => {
    const alice = await connect(server.url);
    const bob = await connect(server.url);
    expect(alice.welcome.protocol).toBe(2);
    expect(alice.session).not.toEqual(bob.session);
    await alice.ping();

    const info = await alice.createRoom({ name: "ts", metadata: { mode: "duel" }, autoDispose: false });
    expect(info).toMatchObject({ roomType: "generic", name: "ts", members: 0, public: true });
    const listed = await bob.listRooms();
    expect(listed.rooms.map((room) => room.id)).toContain(info.id);
    expect(listed.total).toBeGreaterThanOrEqual(1);
    expect((await bob.roomInfo(info.id)).metadata).toEqual({ mode: "duel" });

    const aliceRoom = await alice.join(info.id);
    const joined = next(aliceRoom, "member_joined");
    const bobRoom = await bob.join(info.id);
    expect(bobRoom.members.size).toBe(2);
    const [member] = (await joined) as [{ session: unknown }];
    expect(member.session).toEqual(bob.session);

    const heard = next(bobRoom, "message");
    await aliceRoom.send({ text: "hi" });
    expect(await heard).toEqual([{ text: "hi" }, alice.session]);

    const changed = next(bobRoom, "variable");
    expect(await aliceRoom.set("score", 10, { broadcast: true })).toBe(true);
    expect(await changed).toEqual(["score", 10, alice.session]);
    expect(bobRoom.variables.get("score")).toBe(10);
    expect(await bobRoom.get("score")).toBe(10);
    expect((await bobRoom.getAll()).get("score")).toBe(10);

    const unreliable = next(aliceRoom, "message");
    bobRoom.sendUnreliable("fast");
    expect((await unreliable)[0]).toBe("fast");

    const left = next(aliceRoom, "member_left");
    await bobRoom.leave();
    expect(bobRoom.joined).toBe(false);
    expect(await left).toEqual([bob.session, "left"]);
    expect((await failure(bobRoom.leave())).code).toBe("not_in_room");

    await alice.deleteRoom(info.id);
    expect((await failure(alice.roomInfo(info.id))).code).toBe("room_not_found");
    await alice.close();
    await bob.close();
  });

  it("invokes plugin methods and gets typed errors", async () => {
    const client = await connect(server.url);
    const info = await client.createRoom({ roomType: "chat" });
    const room = await client.join(info.id);
    await room.send("one");
    expect(await room.invoke("history", { last: 5 })).toEqual([{ from: client.session, data: "one" }]);
    const missing = await failure(room.invoke("no_such_method"));
    expect(missing.code).toBe("method_not_found");
    expect(missing.message.length).toBeLessThan(300);
    expect((await failure(client.createRoom({ roomType: "nope" }))).code).toBe("unknown_room_type");
    expect((await failure(client.join("r000000000000"))).code).toBe("room_not_found");
    const full = await client.createRoom({ maxClients: 1 });
    await client.join(full.id);
    const other = await connect(server.url);
    expect((await failure(other.join(full.id))).code).toBe("room_full");
    expect((await failure(client.join(full.id))).code).toBe("already_in_room");
    await other.close();
    await client.close();
  });

  it("protects rooms with passwords and invites", async () => {
    const owner = await connect(server.url);
    const guest = await connect(server.url);
    const info = await owner.createRoom({ password: "secret", public: true });
    expect(info.passwordProtected).toBe(true);
    expect((await failure(guest.join(info.id))).code).toBe("not_authorized");
    const { invite, expiresInMs } = await owner.createInvite(info.id);
    expect(expiresInMs).toBeGreaterThan(0);
    const room = await guest.join(info.id, { invite });
    expect(room.joined).toBe(true);
    await owner.close();
    await guest.close();
  });

  it("lists rooms by their metadata, free seats and members", async () => {
    const owner = await connect(server.url);
    const tag = `t${Date.now()}`;
    const low = await owner.createRoom({ metadata: { tag, rating: 900 }, autoDispose: false });
    const high = await owner.createRoom({ metadata: { tag, rating: 1400 }, maxClients: 1, autoDispose: false });
    const member = await connect(server.url);
    await member.join(high.id);
    const ids = async (options: ListRoomsOptions) => (await owner.listRooms(options)).rooms.map((room) => room.id);
    expect(await ids({ filters: { tag } })).toEqual([low.id, high.id]);
    expect(await ids({ filters: { tag, rating: { min: 1000 } } })).toEqual([high.id]);
    expect(await ids({ filters: { tag }, freeSeats: true })).toEqual([low.id]);
    expect(await ids({ filters: { tag }, sort: "members_desc" })).toEqual([high.id, low.id]);
    expect((await failure(owner.listRooms({ filters: { tag, rating: { min: "x" as unknown as number } } }))).code).toBe(
      "invalid_request",
    );
    await member.close();
    await owner.close();
  });

  it("joins or creates rooms by their metadata, filling one before opening another", async () => {
    const tag = `j${Date.now()}`;
    const clients = await Promise.all([0, 1, 2, 3, 4].map(() => connect(server.url)));
    const placed = await Promise.all(clients.map((client) => client.joinOrCreate({ filters: { tag }, maxClients: 2 })));
    const rooms = new Set(placed.map(({ room }) => room.id));
    expect(rooms.size).toBe(3);
    expect(placed.filter(({ created }) => created).length).toBe(3);
    expect(placed[0]?.room.info.metadata).toEqual({ tag });
    const listed = await clients[0]!.listRooms({ filters: { tag }, sort: "members_desc" });
    expect(listed.rooms.map((room) => room.members)).toEqual([2, 2, 1]);
    const err = await failure(clients[0]!.joinOrCreate({ filters: { tag, rating: { min: 1 } } }));
    expect(err.code).toBe("invalid_request");
    await Promise.all(clients.map((client) => client.close()));
  });
});

describe("values", () => {
  const exact: [string, Value][] = [
    ["binary", new Uint8Array([0, 1, 254, 255])],
    ["u64 max", 18446744073709551615n],
    ["i64 min", -9223372036854775808n],
    ["2^53 + 1", 9007199254740993n],
    ["safe integer", Number.MAX_SAFE_INTEGER],
    ["NaN", Number.NaN],
    ["+Inf", Number.POSITIVE_INFINITY],
    ["-Inf", Number.NEGATIVE_INFINITY],
    ["float", 0.1],
    ["nested", { list: [1, "two", null, true, { deep: new Uint8Array([9]) }] }],
    ["extension", new ExtData(7, new Uint8Array([1, 2, 3]))],
    ["unicode", "héllo 🧛"],
  ];

  it("round-trip exactly through messages and variables", async () => {
    const alice = await connect(server.url);
    const bob = await connect(server.url);
    const info = await alice.createRoom();
    const aliceRoom = await alice.join(info.id);
    const bobRoom = await bob.join(info.id);
    for (const [name, value] of exact) {
      const heard = next(bobRoom, "message");
      await aliceRoom.send(value);
      const [data] = await heard;
      expect(data, name).toEqual(value);
      await aliceRoom.set(name, value);
      expect(await bobRoom.get(name), name).toEqual(value);
    }
    await alice.close();
    await bob.close();
  });
});

describe("connection", () => {
  it("rejects waiting requests and tells the rooms when it closes", async () => {
    const client = await connect(server.url);
    const room = await client.join((await client.createRoom()).id);
    let gone = false;
    room.on("gone", () => {
      gone = true;
    });
    const closed = new Promise<number>((resolve) => client.on("close", (code) => resolve(code)));
    await client.close();
    expect(await closed).toBe(1000);
    expect(gone).toBe(true);
    expect(client.open).toBe(false);
    expect((await failure(client.ping())).code).toBe("closed");
  });

  it("hears connection errors from the server", async () => {
    const strict = await startServer({ limits: { maxFrameBytes: 1024 } });
    try {
      const client = await connect(strict.url);
      const error = new Promise<VampireError>((resolve) => client.on("error", resolve));
      const room = await client.join((await client.createRoom()).id);
      const sent = room.send(new Uint8Array(4096));
      expect((await error).code).toBe("frame_too_large");
      expect((await failure(sent)).code).toBe("closed");
    } finally {
      await strict.stop();
    }
  });

  it("authenticates with a token when the server asks for one", async () => {
    const secret = "a-test-secret-of-at-least-32-bytes!!";
    const secured = await startServer({ auth: { mode: "jwt", algorithm: "HS256", secret } });
    try {
      const token = await sign({ sub: "ada", name: "Ada", exp: Math.floor(Date.now() / 1000) + 3600 }, secret);
      const client = await connect(secured.url, { token });
      expect(client.welcome.auth).toBe("token");
      const room = await client.join((await client.createRoom()).id);
      expect([...room.members.values()][0]).toMatchObject({ userId: "ada", userName: "Ada" });
      await client.close();
      const refused = await failure(connect(secured.url, { token: "not.a.token" }));
      expect(refused.code).toBe("not_authenticated");
    } finally {
      await secured.stop();
    }
  });

  it("fails to connect with a clear error where nothing listens", async () => {
    const err = await failure(connect("ws://127.0.0.1:1/", { connectTimeoutMs: 2000 }));
    expect(["closed", "timeout"]).toContain(err.code);
  });
});

/** An HS256 JWT, signed with Node's crypto. */
async function sign(claims: Record<string, unknown>, secret: string): Promise<string> {
  const { createHmac } = await import("node:crypto");
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const body = `${part({ alg: "HS256", typ: "JWT" })}.${part(claims)}`;
  return `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`;
}
