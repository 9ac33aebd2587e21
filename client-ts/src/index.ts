/**
 * A TypeScript client for VampireTCP over WebSocket, for browsers and
 * Node.js 20+.
 *
 * ```ts
 * import { connect } from "vampiretcp-client";
 * const client = await connect("ws://localhost:7780/");
 * const room = await client.join((await client.createRoom()).id);
 * room.on("message", (data, from) => console.log(from, data));
 * await room.send("hello");
 * ```
 *
 * Layout: `client` (the connection, requests, events, keep-alive,
 * resuming), `reconnect` (backoff, sequence numbers, what is sent again), `room`
 * (a joined room's state and operations), `values` (MessagePack values,
 * exact), `errors` (codes), `types` (the answers' shapes), `emitter`.
 *
 * @module
 */
export { ACK_EVERY_MS, Client, type ClientEvents, type ConnectOptions, PROTOCOL_VERSION, type WebSocketConstructor, type WebSocketLike, connect } from "./client.js";
export { type ErrorCode, VampireError } from "./errors.js";
export { type ReconnectOptions, backoff } from "./reconnect.js";
export { Room, type RoomEvents } from "./room.js";
export type { Authenticated, CreateRoomOptions, JoinOptions, JoinOrCreateOptions, ListRoomsOptions, Match, Member, RoomInfo, RoomList, SessionId, Welcome } from "./types.js";
export { ExtData, type Value, decode, encode } from "./values.js";
