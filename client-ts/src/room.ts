/**
 * A room this client joined: its state as the join gave it, kept up to
 * date by the room's events, and its operations.
 *
 * @module
 */
import { Emitter } from "./emitter.js";
import type { Member, RoomInfo, SessionId } from "./types.js";
import type { Value } from "./values.js";

/** Events of one room, with their listeners' arguments. */
export type RoomEvents = {
  /** A `room_message`: `from` is nil when the room itself sent it. */
  message: (data: Value, from: SessionId | null) => void;
  /** A broadcast variable changed (also kept in `room.variables`). */
  variable: (name: string, value: Value, by: SessionId | null) => void;
  member_joined: (member: Member) => void;
  /** `reason`: `"left"`, `"disconnected"`, `"timeout"` (it dropped and did not come back in time) or `"kicked"`. */
  member_left: (session: SessionId, reason: string) => void;
  /** A member's connection dropped; its seat is held while it may resume. */
  member_disconnected: (session: SessionId) => void;
  /** A member whose connection dropped resumed. */
  member_reconnected: (session: SessionId) => void;
  /** After a resync, the room as it is now (members and variables were replaced). */
  state: () => void;
  /** The room removed this client. */
  kicked: (reason: string) => void;
  /** The owner or an operator deleted the room. */
  deleted: () => void;
  /** The server closed the room. */
  closed: (reason: string) => void;
  /** The room swapped to a new version of its plugin. */
  reloaded: () => void;
  /** This client is no longer a member (left, kicked, deleted, closed, or the connection ended). */
  gone: () => void;
};

/** What a room needs from its connection. */
export interface RoomTransport {
  request(op: string, fields: Record<string, unknown>): Promise<unknown>;
  notify(op: string, fields: Record<string, unknown>): void;
  forget(room: string): void;
}

/** A room this client is a member of. */
export class Room extends Emitter<RoomEvents> {
  /** The room's id. */
  readonly id: string;
  /** The room as it was at the join. */
  readonly info: RoomInfo;
  /** Members now, by session, in join order. */
  readonly members = new Map<string, Member>();
  /** Variables now: the join's, then every broadcast change. */
  readonly variables = new Map<string, Value>();
  /** What the room's join hook answered (nil for the generic room). */
  readonly reply: Value;
  #transport: RoomTransport;
  #member = true;

  /** @internal Made by `Client.join`. */
  constructor(transport: RoomTransport, info: RoomInfo, roster: Member[], variables: Record<string, Value>, reply: Value) {
    super();
    this.#transport = transport;
    this.id = info.id;
    this.info = info;
    this.reply = reply;
    for (const member of roster) this.members.set(String(member.session), member);
    for (const [name, value] of Object.entries(variables)) this.variables.set(name, value);
  }

  /** Whether this client is still a member. */
  get joined(): boolean {
    return this.#member;
  }

  /** Sends `data` to the room (the generic room relays it to every member, this one included). */
  async send(data: Value): Promise<void> {
    await this.#transport.request("send_message", { room: this.id, data });
  }

  /**
   * Sends `data` as data that may be lost: a notification without an
   * answer. Over WebSocket there is no UDP, so it travels on the
   * connection, like TCP without UDP.
   */
  sendUnreliable(data: Value): void {
    this.#transport.notify("send_message", { room: this.id, data });
  }

  /** A variable's value. @throws {VampireError} `variable_not_found` */
  async get(name: string): Promise<Value> {
    const result = (await this.#transport.request("get_variable", { room: this.id, name })) as { value: Value };
    return result.value;
  }

  /** Every variable a member may read. */
  async getAll(): Promise<Map<string, Value>> {
    const result = (await this.#transport.request("get_variables", { room: this.id })) as {
      variables: Record<string, Value>;
    };
    return new Map(Object.entries(result.variables));
  }

  /**
   * Sets a variable; resolves to whether members were told (`variable`
   * events). `broadcast` sets the variable's flag; without it an existing
   * variable keeps its own.
   */
  async set(name: string, value: Value, options: { broadcast?: boolean; unreliable?: boolean } = {}): Promise<boolean> {
    const result = (await this.#transport.request("set_variable", { room: this.id, name, value, ...options })) as {
      broadcast: boolean;
    };
    return result.broadcast;
  }

  /** Calls a method of the room's plugin and resolves to its result. @throws {VampireError} `method_not_found`, `room_error`, `plugin_error`… */
  async invoke(method: string, args: Value = null): Promise<Value> {
    return (await this.#transport.request("invoke", { room: this.id, method, args })) as Value;
  }

  /** Leaves the room. */
  async leave(): Promise<void> {
    await this.#transport.request("leave", { room: this.id });
    this.#end();
  }

  /** @internal Applies one of the room's events. */
  dispatch(event: string, fields: Record<string, unknown>): void {
    switch (event) {
      case "room_message":
        this.emit("message", fields["data"] as Value, (fields["from"] ?? null) as SessionId | null);
        break;
      case "variable_changed": {
        const name = String(fields["name"]);
        const value = fields["value"] as Value;
        this.variables.set(name, value);
        this.emit("variable", name, value, (fields["by"] ?? null) as SessionId | null);
        break;
      }
      case "member_joined": {
        const member: Member = {
          session: fields["session"] as SessionId,
          userId: (fields["user_id"] ?? null) as string | null,
          userName: (fields["user_name"] ?? null) as string | null,
        };
        this.members.set(String(member.session), member);
        this.emit("member_joined", member);
        break;
      }
      case "member_left": {
        const session = fields["session"] as SessionId;
        this.members.delete(String(session));
        this.emit("member_left", session, String(fields["reason"]));
        break;
      }
      case "kicked":
        this.emit("kicked", String(fields["reason"]));
        this.#end();
        break;
      case "room_deleted":
        this.emit("deleted");
        this.#end();
        break;
      case "room_closed":
        this.emit("closed", String(fields["reason"]));
        this.#end();
        break;
      case "room_reloaded":
        this.emit("reloaded");
        break;
      case "member_disconnected":
        this.emit("member_disconnected", fields["session"] as SessionId);
        break;
      case "member_reconnected":
        this.emit("member_reconnected", fields["session"] as SessionId);
        break;
      case "room_state": {
        const state = (fields["state"] ?? {}) as Record<string, unknown>;
        this.members.clear();
        for (const entry of (state["roster"] ?? []) as Record<string, unknown>[]) {
          const member: Member = {
            session: entry["session"] as SessionId,
            userId: (entry["user_id"] ?? null) as string | null,
            userName: (entry["user_name"] ?? null) as string | null,
          };
          this.members.set(String(member.session), member);
        }
        this.variables.clear();
        for (const [name, value] of Object.entries((state["variables"] ?? {}) as Record<string, Value>)) {
          this.variables.set(name, value);
        }
        this.emit("state");
        break;
      }
      default:
        // Events this client does not know are ignored, as the protocol asks.
        break;
    }
  }

  /** @internal This client is no longer a member. */
  end(): void {
    this.#end();
  }

  #end(): void {
    if (!this.#member) return;
    this.#member = false;
    this.#transport.forget(this.id);
    this.emit("gone");
  }
}
