/**
 * One connection to a VampireTCP server's WebSocket port: the welcome,
 * requests and their answers, events routed to their rooms, the
 * keep-alive, closing, resuming the session when the connection drops
 * (see `reconnect`), and following a cluster's redirects (see `cluster`).
 *
 * @module
 */
import { Links, Redirected, nodeUrl } from "./cluster.js";
import { Emitter } from "./emitter.js";
import { VampireError } from "./errors.js";
import { type ReconnectOptions, SentLog, backoff, isNumbered, mayResume } from "./reconnect.js";
import { Room } from "./room.js";
import {
  type Authenticated,
  type CreateRoomOptions,
  type JoinOptions,
  type JoinOrCreateOptions,
  type Match,
  type ListRoomsOptions,
  type Member,
  type RoomInfo,
  type RoomList,
  type SessionId,
  type Welcome,
  roomInfo,
} from "./types.js";
import { type Value, decode, encode } from "./values.js";

/** The protocol version this client speaks. */
export const PROTOCOL_VERSION = 2;

/** The WebSocket interface this client needs: the browsers' one, which the `ws` package also offers. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

/** A WebSocket constructor (`globalThis.WebSocket`, or the `ws` package's). */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** How to connect. */
export interface ConnectOptions {
  /** A token to `authenticate` with as soon as the server welcomes the client. Default: none. */
  token?: string;
  /** The WebSocket to use. Default: `globalThis.WebSocket`, else the `ws` package (Node.js 20). */
  WebSocket?: WebSocketConstructor;
  /** How long to wait for the upgrade and the welcome. Default 10 000 ms. */
  connectTimeoutMs?: number;
  /**
   * Resume the session when the connection drops (the server holds it for
   * `reconnect.windowSecs`): dial again with backoff, `resume`, get what
   * was missed, write again what the server never read. `false` turns it
   * off. Default: on, with the {@link ReconnectOptions} defaults.
   */
  reconnect?: ReconnectOptions | false;
}

/** The id of `resume`, answered before anything else on its connection. */
const RESUME_ID = 0xffff_ffff;

/**
 * How often the client acknowledges (`ack`) the numbered frames it
 * handled, while new ones arrive: the server then keeps about this much of
 * the session's traffic for a resume instead of `reconnect.replayBytes`.
 */
export const ACK_EVERY_MS = 100;

/** Connection-level events. */
export type ClientEvents = {
  /** An error about the connection rather than a request (say `timeout` or `server_shutdown` before closing). */
  error: (error: VampireError) => void;
  /** The connection ended; every room is gone and waiting requests failed with `closed`. */
  close: (code: number, reason: string) => void;
  /** The connection dropped; attempt `attempt` to resume starts in `delayMs`. */
  reconnecting: (attempt: number, delayMs: number) => void;
  /** The session resumed; the `replayed` frames it missed follow, in order. */
  reconnected: (replayed: number) => void;
  /** The session resumed but missed more than the server kept: each room sends its `state` next. */
  resynced: (rooms: string[]) => void;
  /** The session could not be resumed; `close` follows. */
  lost: (reason: string) => void;
  /** The matchmaker formed a match for a ticket: join it with `joinMatch(match)`. */
  matched: (match: Match) => void;
  /** A ticket waited its queue's time-out without a match; it is gone. */
  match_timeout: (ticket: string) => void;
};


type Pending = { resolve: (value: unknown) => void; reject: (error: VampireError) => void };

/**
 * Connects to `url` (`ws://host:7780/` or `wss://…`) and resolves once
 * the server has welcomed the client (and accepted `options.token`).
 *
 * @throws {VampireError} `closed` when the upgrade fails or the
 * connection ends first, `timeout` without a welcome in time, the
 * server's code when it refuses (say `server_busy`, `not_authenticated`).
 */
export async function connect(url: string, options: ConnectOptions = {}): Promise<Client> {
  const Socket = options.WebSocket ?? (await defaultWebSocket());
  const { socket, welcome } = await open(Socket, url, options);
  const client = new Client(socket, welcome, { url, Socket, options });
  if (options.token !== undefined) {
    try {
      await client.authenticate(options.token);
    } catch (err) {
      await client.close();
      throw err;
    }
  }
  return client;
}

/** Opens a WebSocket to `url` and resolves with it and the server's welcome. */
async function open(
  Socket: WebSocketConstructor,
  url: string,
  options: ConnectOptions,
): Promise<{ socket: WebSocketLike; welcome: Welcome }> {
  const socket = new Socket(url);
  socket.binaryType = "arraybuffer";
  const welcome = await new Promise<Welcome>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.close();
      reject(new VampireError("timeout", `no welcome from ${url} in time`));
    }, options.connectTimeoutMs ?? 10_000);
    socket.onmessage = (event) => {
      clearTimeout(timer);
      const message = decodeMessage(event.data);
      if (message?.["type"] === "welcome") {
        resolve(readWelcome(message));
      } else if (message?.["type"] === "error") {
        reject(new VampireError(String(message["code"]), String(message["message"])));
      } else {
        reject(new VampireError("invalid_frame", "the server's first message is not a welcome"));
      }
    };
    socket.onclose = (event) => {
      clearTimeout(timer);
      reject(new VampireError("closed", `connection to ${url} closed before the welcome (${event.code})`));
    };
    socket.onerror = () => {};
  });
  if (welcome.protocol !== PROTOCOL_VERSION) {
    socket.close();
    throw new VampireError("closed", `the server speaks protocol ${welcome.protocol}, this client ${PROTOCOL_VERSION}`);
  }
  return { socket, welcome };
}

/**
 * The next message on `socket`, within `timeoutMs`, and those that come
 * after it before the caller takes the socket over (the replay may arrive
 * in the same read as the answer: they are kept, in order, in `after`).
 */
function nextMessage(
  socket: WebSocketLike,
  timeoutMs: number,
): Promise<{ message: Record<string, unknown>; after: unknown[] }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new VampireError("timeout", "no answer to resume in time")), timeoutMs);
    socket.onmessage = (event) => {
      clearTimeout(timer);
      const after: unknown[] = [];
      socket.onmessage = (later) => after.push(later.data);
      const message = decodeMessage(event.data);
      if (message) resolve({ message, after });
      else reject(new VampireError("invalid_frame", "an unreadable answer to resume"));
    };
    socket.onclose = () => {
      clearTimeout(timer);
      reject(new VampireError("closed", "the connection closed before the answer to resume"));
    };
  });
}

/** How a client dials its server again. */
interface Dial {
  url: string;
  Socket: WebSocketConstructor;
  options: ConnectOptions;
}

async function defaultWebSocket(): Promise<WebSocketConstructor> {
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (global) return global;
  const ws = await import("ws");
  return ws.default as unknown as WebSocketConstructor;
}

/** A connection to a server. Made by {@link connect}. */
export class Client extends Emitter<ClientEvents> {
  /** The server's welcome. */
  readonly welcome: Welcome;
  #socket: WebSocketLike;
  #nextId = 1;
  #pending = new Map<number, Pending>();
  #rooms = new Map<string, Room>();
  #lastSend = Date.now();
  #heartbeat: ReturnType<typeof setInterval>;
  #closed: Promise<void>;
  #resolveClosed: () => void = () => {};
  #open = true;
  #dial: Dial;
  /** The token that resumes the session (rotated by each resume). */
  #resumeToken: string | undefined;
  /** Numbered frames handled: `resume`'s `last_seq`. */
  #seq = 0;
  /** The last `seq` acknowledged to the server. */
  #acked = 0;
  #acks: ReturnType<typeof setInterval>;
  /** Frames written the server may not have read; none without reconnection. */
  #sent: SentLog | undefined;
  /** The code of the error that ended the connection, when the server said one. */
  #farewell: string | undefined;
  /** The application ended the session: no resume. */
  #ending = false;
  /** A dropped connection is being resumed: writes wait in the log. */
  #resuming = false;
  /** Connections to the other nodes of a cluster whose rooms this client joined. */
  #links = new Links<Client>((url) => connect(url, this.#dial.options));

  /** @internal Made by {@link connect}. */
  constructor(socket: WebSocketLike, welcome: Welcome, dial: Dial) {
    super();
    this.#socket = socket;
    this.welcome = welcome;
    this.#dial = dial;
    this.#resumeToken = welcome.resumeToken;
    if (dial.options.reconnect !== false) this.#sent = new SentLog();
    this.#closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.#attach(socket);
    // A ping notification whenever the client has said nothing for a
    // third of the server's idle timeout.
    const every = Math.max(1000, Math.floor(welcome.idleTimeoutMs / 3));
    this.#heartbeat = setInterval(() => {
      if (Date.now() - this.#lastSend >= every) this.notify("ping", {});
    }, every);
    (this.#heartbeat as { unref?: () => void }).unref?.();
    this.#acks = setInterval(() => this.#acknowledge(), ACK_EVERY_MS);
    (this.#acks as { unref?: () => void }).unref?.();
  }

  /** This connection's session id. */
  get session(): SessionId {
    return this.welcome.session;
  }

  /** Whether the connection is open. */
  get open(): boolean {
    return this.#open;
  }

  /** The rooms this client is a member of, by id (those on other nodes of a cluster too). */
  get rooms(): ReadonlyMap<string, Room> {
    const links = this.#links.open;
    if (links.length === 0) return this.#rooms;
    return new Map([...this.#rooms, ...links.flatMap((link) => [...link.rooms])]);
  }

  /** Proves who the client is with a token (when the welcome says `auth: "token"`). @throws {VampireError} `not_authenticated` */
  async authenticate(token: string): Promise<Authenticated> {
    const result = (await this.request("authenticate", { token })) as Record<string, unknown>;
    if (typeof result["resume_token"] === "string") this.#resumeToken = result["resume_token"];
    return { userId: String(result["user_id"]), userName: (result["user_name"] ?? null) as string | null };
  }

  /**
   * Public rooms that are not locked, one page at a time: those whose
   * metadata passes `filters` (a value to equal, or `{ min, max }` for a
   * numeric range), with a free seat when `freeSeats`, in `sort` order
   * (oldest first by default). @throws {VampireError} `invalid_request`
   */
  async listRooms(options: ListRoomsOptions = {}): Promise<RoomList> {
    const result = (await this.request("list_rooms", {
      room_type: options.roomType,
      offset: options.offset,
      limit: options.limit,
      filters: options.filters,
      free_seats: options.freeSeats,
      sort: options.sort,
    })) as { rooms: Record<string, unknown>[]; total: number };
    return { rooms: result.rooms.map(roomInfo), total: Number(result.total) };
  }

  /** Creates a room (the creator does not join it). @throws {VampireError} `unknown_room_type`, `quota_exceeded`, `server_busy`… */
  async createRoom(options: CreateRoomOptions = {}): Promise<RoomInfo> {
    const result = await this.request("create_room", createRoomFields(options));
    return roomInfo(result as Record<string, unknown>);
  }

  /** A room as listings show it now. @throws {VampireError} `room_not_found` */
  async roomInfo(room: string): Promise<RoomInfo> {
    return roomInfo((await this.request("room_info", { room })) as Record<string, unknown>);
  }

  /**
   * Joins a room; its events go to the returned {@link Room}. In a
   * cluster, a room on another node is joined over a connection to that
   * node (made with the same options, and kept until this client closes).
   *
   * @throws {VampireError} `room_not_found`, `room_full`, `not_authorized`…;
   * `server_busy` when the room's node gives no WebSocket address.
   */
  async join(room: string, options: JoinOptions = {}): Promise<Room> {
    try {
      return await this.#join(room, options, undefined);
    } catch (err) {
      if (!(err instanceof Redirected) || err.wsAddress === undefined) throw err;
      const link = await this.#links.to(nodeUrl(err.wsAddress, this.#dial.url));
      return link.#join(room, options, err.reservation);
    }
  }

  /**
   * Joins the fullest public, unlocked room of `roomType` without a
   * password, with a free seat, whose metadata passes `filters`; or, when
   * none has one, a room created with the other options (its metadata,
   * when absent, is the filters' exact values). Racing clients never
   * create two rooms where one would do. In a cluster, follows the
   * redirect as `join` does.
   *
   * @throws {VampireError} `invalid_request` for filters the room it would
   * create does not meet; what `createRoom` and `join` throw.
   */
  async joinOrCreate(options: JoinOrCreateOptions = {}): Promise<{ room: Room; created: boolean }> {
    const fields = { ...createRoomFields(options), filters: options.filters, join_options: options.joinOptions };
    const joinOptions: JoinOptions = options.joinOptions === undefined ? {} : { options: options.joinOptions };
    try {
      const result = (await this.request("join_or_create", fields)) as Record<string, unknown>;
      return { room: this.#joined(result), created: result["created"] === true };
    } catch (err) {
      if (!(err instanceof Redirected) || err.wsAddress === undefined) throw err;
      const link = await this.#links.to(nodeUrl(err.wsAddress, this.#dial.url));
      return { room: await link.#join(err.room, joinOptions, err.reservation), created: err.created };
    }
  }

  /**
   * Puts a ticket in matchmaking queue `queue` with the player's
   * `properties` and the `query` other tickets must meet (a value to
   * equal, `{ min, max }`, or `{ within, widen, every_ms }`: a window
   * around this ticket's own value that widens with waiting). The match
   * comes as a `matched` event (join it with {@link joinMatch}), or
   * `match_timeout`.
   *
   * @throws {VampireError} `invalid_request` (unknown queue, undeclared
   * property, unreadable query), `quota_exceeded`, `server_busy`
   */
  async matchmakerAdd(queue: string, options: { properties?: Record<string, Value>; query?: Record<string, Value> } = {}): Promise<string> {
    const result = (await this.request("matchmaker_add", {
      queue,
      properties: options.properties,
      query: options.query,
    })) as Record<string, unknown>;
    return String(result["ticket"]);
  }

  /** Withdraws a waiting ticket. @throws {VampireError} `invalid_request` when it no longer waits */
  async matchmakerRemove(ticket: string): Promise<void> {
    await this.request("matchmaker_remove", { ticket });
  }

  /**
   * Joins the room of a match with the seat held there (over a
   * connection to its node, when it is another node of a cluster).
   *
   * @throws {VampireError} what `join` throws; `server_busy` when the
   * room's node gives no WebSocket address.
   */
  async joinMatch(match: Match): Promise<Room> {
    if (match.address === undefined) return this.#join(match.room, {}, match.reservation);
    if (match.wsAddress === undefined) {
      throw new VampireError("server_busy", "the match's room lives on another node, which gives no WebSocket address");
    }
    const link = await this.#links.to(nodeUrl(match.wsAddress, this.#dial.url));
    return link.#join(match.room, {}, match.reservation);
  }

  /** Sends `join` (with the seat a redirect reserved, if any) and makes the room. */
  async #join(room: string, options: JoinOptions, reservation: string | undefined): Promise<Room> {
    const result = (await this.request("join", {
      room,
      password: options.password,
      invite: options.invite,
      options: options.options,
      reservation,
    })) as Record<string, unknown>;
    return this.#joined(result);
  }

  /** The room a join result describes, whose events go to it from now on. */
  #joined(result: Record<string, unknown>): Room {
    const roster = ((result["roster"] ?? []) as Record<string, unknown>[]).map(
      (entry): Member => ({
        session: entry["session"] as SessionId,
        userId: (entry["user_id"] ?? null) as string | null,
        userName: (entry["user_name"] ?? null) as string | null,
      }),
    );
    const info = roomInfo(result["room"] as Record<string, unknown>);
    const joined = new Room(
      {
        request: (op, fields) => this.request(op, fields),
        notify: (op, fields) => this.notify(op, fields),
        forget: (id) => this.#rooms.delete(id),
      },
      info,
      roster,
      (result["variables"] ?? {}) as Record<string, Value>,
      (result["reply"] ?? null) as Value,
    );
    this.#rooms.set(info.id, joined);
    return joined;
  }

  /** An invite to a password-protected room (owner or operator only). */
  async createInvite(room: string): Promise<{ invite: string; expiresInMs: number }> {
    const result = (await this.request("create_invite", { room })) as Record<string, unknown>;
    return { invite: String(result["invite"]), expiresInMs: Number(result["expires_in_ms"]) };
  }

  /** Deletes a room (owner or operator only). */
  async deleteRoom(room: string): Promise<void> {
    await this.request("delete_room", { room });
  }

  /** A round trip to the server. */
  async ping(): Promise<void> {
    await this.request("ping", {});
  }

  /**
   * Sends one request and resolves to its result. Fields that are
   * `undefined` are left out.
   *
   * @throws {VampireError} With the server's code, or `closed`.
   */
  request(op: string, fields: Record<string, unknown>): Promise<unknown> {
    if (!this.#open) return Promise.reject(new VampireError("closed", "the connection is closed"));
    const id = this.#nextId;
    this.#nextId = id >= 0xffff_fff0 ? 1 : id + 1;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#send({ id, op, ...fields });
    });
  }

  /** Sends a request without an id: no answer unless it fails (then an `error` event). */
  notify(op: string, fields: Record<string, unknown>): void {
    if (this.#open) this.#send({ op, ...fields });
  }

  /**
   * Ends the session (`close_session`: it leaves every room at once, not
   * held for a resume) and resolves once the connection is closed.
   */
  async close(): Promise<void> {
    this.#ending = true;
    await this.#links.close();
    if (this.#open && !this.#resuming) {
      try {
        await Promise.race([this.request("close_session", {}), this.#closed]);
      } catch {
        // Closed already: nothing to end.
      }
      this.#socket.close(1000);
    }
    if (this.#resuming) this.#shutDown(1000, "closed by the application");
    await this.#closed;
  }

  #attach(socket: WebSocketLike): void {
    this.#socket = socket;
    this.#farewell = undefined;
    socket.onmessage = (event) => this.#receive(event.data);
    socket.onclose = (event) => this.#dropped(event.code, event.reason);
  }

  #send(message: Record<string, unknown>): void {
    this.#lastSend = Date.now();
    const bytes = encode(message);
    this.#sent?.push(message["id"], bytes);
    if (!this.#resuming) this.#socket.send(bytes);
  }

  /**
   * Tells the server the numbered frames handled since the last `ack`, so
   * that it lets them go; only when it holds sessions (it gave a resume
   * token), and not while the connection is being resumed.
   */
  #acknowledge(): void {
    if (this.#resumeToken === undefined || this.#resuming || this.#seq <= this.#acked) return;
    this.#acked = this.#seq;
    this.notify("ack", { seq: this.#seq });
  }

  /** The connection ended: resume the session when the client may, else shut down. */
  #dropped(code: number, reason: string): void {
    const resumes =
      this.#sent !== undefined && !this.#ending && this.#resumeToken !== undefined && mayResume(this.#farewell);
    if (!resumes) {
      this.#shutDown(code, reason);
      return;
    }
    this.#resuming = true;
    void this.#resume(code, reason);
  }

  async #resume(code: number, reason: string): Promise<void> {
    const policy = this.#dial.options.reconnect || {};
    const started = Date.now();
    for (let attempt = 1; ; attempt += 1) {
      const delay = backoff(policy, attempt);
      if (Date.now() - started + delay > (policy.giveUpAfterMs ?? 30_000)) {
        this.emit("lost", "no resume in time");
        break;
      }
      this.emit("reconnecting", attempt, delay);
      await new Promise((done) => setTimeout(done, delay));
      if (this.#ending) break;
      try {
        const { url, Socket, options } = this.#dial;
        const { socket } = await open(Socket, url, options);
        const answer = nextMessage(socket, options.connectTimeoutMs ?? 10_000);
        socket.send(encode({ id: RESUME_ID, op: "resume", token: this.#resumeToken, last_seq: this.#seq, auth_token: options.token }));
        const { message, after } = await answer;
        if (message["type"] === "redirect") {
          // Another node of the cluster holds the session: resume there.
          socket.close();
          const redirect = new Redirected(message);
          if (redirect.wsAddress !== undefined) {
            this.#dial.url = nodeUrl(redirect.wsAddress, this.#dial.url);
            continue;
          }
          this.emit("lost", "the session is held by a node that gives no WebSocket address");
          break;
        }
        if (message["type"] === "error") {
          const refused = String(message["code"]);
          socket.close();
          if (refused === "session_in_use") continue;
          this.emit("lost", `${refused}: ${String(message["message"])}`);
          break;
        }
        const result = (message["result"] ?? {}) as Record<string, unknown>;
        this.#resumeToken = String(result["resume_token"]);
        this.#seq = Number(result["seq"]);
        this.#attach(socket);
        this.#resuming = false;
        for (const frame of this.#sent!.unread(Number(result["requests_read"]))) socket.send(frame);
        if (result["resync"] === true) this.emit("resynced", ((result["rooms"] ?? []) as unknown[]).map(String));
        else this.emit("reconnected", Number(result["replayed"]));
        for (const data of after) this.#receive(data);
        return;
      } catch {
        // The network, or the server not there yet: try again.
      }
    }
    this.#shutDown(code, reason);
  }

  #receive(data: unknown): void {
    const message = decodeMessage(data);
    if (!message) return;
    if (isNumbered(message)) this.#seq += 1;
    switch (message["type"]) {
      case "response":
        this.#sent?.answered(message["id"]);
        this.#settle(message["id"], (pending) => pending.resolve(message["result"] ?? null));
        break;
      case "error": {
        const error = new VampireError(String(message["code"]), String(message["message"]));
        if (message["closing"] === true) this.#farewell = String(message["code"]);
        if (message["id"] === null || message["id"] === undefined) this.emit("error", error);
        else {
          this.#sent?.answered(message["id"]);
          this.#settle(message["id"], (pending) => pending.reject(error));
        }
        break;
      }
      case "event": {
        if (message["event"] === "matched") {
          this.emit("matched", readMatch(message));
          break;
        }
        if (message["event"] === "match_timeout") {
          this.emit("match_timeout", String(message["ticket"]));
          break;
        }
        const room = this.#rooms.get(String(message["room"]));
        room?.dispatch(String(message["event"]), message);
        break;
      }
      case "redirect":
        this.#settle(message["id"], (pending) => pending.reject(new Redirected(message)));
        break;
      default:
        break;
    }
  }

  #settle(id: unknown, settle: (pending: Pending) => void): void {
    const pending = this.#pending.get(Number(id));
    if (!pending) return;
    this.#pending.delete(Number(id));
    settle(pending);
  }

  #shutDown(code: number, reason: string): void {
    if (!this.#open) return;
    this.#open = false;
    this.#resuming = false;
    this.#resolveClosed();
    clearInterval(this.#heartbeat);
    clearInterval(this.#acks);
    for (const pending of this.#pending.values()) {
      pending.reject(new VampireError("closed", "the connection closed before the answer"));
    }
    this.#pending.clear();
    for (const room of [...this.#rooms.values()]) room.end();
    // The rooms joined through other nodes end with the session.
    void this.#links.close();
    this.emit("close", code, reason);
  }
}

function decodeMessage(data: unknown): Record<string, unknown> | undefined {
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data instanceof Uint8Array ? data : undefined;
  if (!bytes) return undefined;
  try {
    const message = decode(bytes);
    return message !== null && typeof message === "object" ? (message as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A `create_room`'s fields (also those of `join_or_create`), as the wire names them. */
function createRoomFields(options: CreateRoomOptions): Record<string, unknown> {
  return {
    room_type: options.roomType,
    name: options.name,
    public: options.public,
    max_clients: options.maxClients,
    metadata: options.metadata,
    variable_broadcast: options.variableBroadcast,
    auto_dispose: options.autoDispose,
    password: options.password,
    options: options.options,
  };
}

function readMatch(message: Record<string, unknown>): Match {
  const match: Match = {
    ticket: String(message["ticket"]),
    room: String(message["room"]),
    reservation: String(message["reservation"]),
    expiresInMs: Number(message["expires_in_ms"] ?? 0),
  };
  if (typeof message["address"] === "string") match.address = message["address"];
  if (typeof message["ws_address"] === "string") match.wsAddress = message["ws_address"];
  return match;
}

function readWelcome(message: Record<string, unknown>): Welcome {
  return {
    protocol: Number(message["protocol"]),
    session: message["session"] as SessionId,
    server: String(message["server"]),
    idleTimeoutMs: Number(message["idle_timeout_ms"] ?? 60_000),
    auth: message["auth"] === "token" ? "token" : "none",
    resumeToken: typeof message["resume_token"] === "string" ? message["resume_token"] : undefined,
  };
}
