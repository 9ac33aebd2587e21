/**
 * The matchmaker through the client, against a real server binary with
 * one queue: two tickets form a match whose room both join.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Match, VampireError, connect } from "../src/index.js";
import { type TestServer, startServer } from "./server.js";

let server: TestServer;

beforeAll(async () => {
  server = await startServer({
    matchmaking: { queues: [{ name: "duel", minPlayers: 2, maxPlayers: 2, properties: { rating: "number" } }] },
  });
});

afterAll(async () => {
  await server?.stop();
});

describe("matchmaker", () => {
  it("matches two tickets and both join the match's room", async () => {
    const [alice, bob] = [await connect(server.url), await connect(server.url)];
    const matches = [alice, bob].map((client) => new Promise<Match>((resolve) => client.once("matched", resolve)));
    const window = { rating: { within: 100 } };
    const ticket = await alice.matchmakerAdd("duel", { properties: { rating: 1500 }, query: window });
    await bob.matchmakerAdd("duel", { properties: { rating: 1550 }, query: window });
    const [aliceMatch, bobMatch] = await Promise.all(matches);
    expect(aliceMatch?.ticket).toBe(ticket);
    expect(aliceMatch?.room).toBe(bobMatch?.room);
    const room = await alice.joinMatch(aliceMatch!);
    const theirs = await bob.joinMatch(bobMatch!);
    expect(theirs.members.size).toBe(2);
    expect(room.id).toBe(theirs.id);
    const err = await alice.matchmakerRemove(ticket).catch((e: unknown) => e);
    expect(err instanceof VampireError && err.code).toBe("invalid_request");
    await alice.close();
    await bob.close();
  });
});
