/**
 * The shapes of the server's answers, as docs/PROTOCOL.md names them
 * (fields in camelCase here).
 *
 * @module
 */
import type { Value } from "./values.js";

/** A session id: a number, or a `bigint` past 2^53. */
export type SessionId = number | bigint;

/** The server's first message on a connection. */
export interface Welcome {
  /** Protocol version (this client speaks 2). */
  protocol: number;
  /** This connection's session id. */
  session: SessionId;
  /** Server name and version. */
  server: string;
  /** The server closes a connection silent for this long; the client pings well within it. */
  idleTimeoutMs: number;
  /** `"token"`: `authenticate` must come first (pass `token` to `connect`). */
  auth: "token" | "none";
  /** The secret that resumes this session after a drop (absent when the server holds no sessions). Keep it private. */
  resumeToken: string | undefined;
}

/** A room as listings show it. */
export interface RoomInfo {
  id: string;
  roomType: string;
  name: string;
  public: boolean;
  members: number;
  maxClients: number;
  passwordProtected: boolean;
  locked: boolean;
  metadata: Value;
}

/** A page of `listRooms`. */
export interface RoomList {
  rooms: RoomInfo[];
  /** Every public room that matched, beyond this page too. */
  total: number;
}

/** One member as a join result lists them. */
export interface Member {
  session: SessionId;
  /** Nil on a server without authentication. */
  userId: string | null;
  userName: string | null;
}

/** The settings of `createRoom`; every one is optional (the server's defaults apply). */
export interface CreateRoomOptions {
  roomType?: string;
  name?: string;
  public?: boolean;
  maxClients?: number;
  metadata?: Value;
  variableBroadcast?: { enabled?: boolean; default?: boolean };
  autoDispose?: boolean;
  password?: string;
  /** Passed to a plugin's create hook. */
  options?: Value;
}

/** What `listRooms` selects and how it orders it. */
export interface ListRoomsOptions {
  roomType?: string;
  offset?: number;
  limit?: number;
  /** Metadata key → the value it must equal, or `{ min?, max? }` for a numeric range. */
  filters?: Record<string, Value | { min?: number; max?: number }>;
  /** Only rooms with a free seat. */
  freeSeats?: boolean;
  /** Default `"oldest"`; ties stay oldest first. */
  sort?: "oldest" | "newest" | "members_asc" | "members_desc";
}

/** What `joinOrCreate` may join, and the room it creates when none has a seat. */
export interface JoinOrCreateOptions extends Omit<CreateRoomOptions, "password"> {
  /** Metadata key → the value it must equal, or `{ min?, max? }` for a numeric range. */
  filters?: Record<string, Value | { min?: number; max?: number }>;
  /** The password of a room it creates (rooms with a password are never joined). */
  password?: string;
  /** Passed to a plugin's join hook. */
  joinOptions?: Value;
}

/** A match the matchmaker formed for one of this client's tickets. */
export interface Match {
  ticket: string;
  room: string;
  /** The seat held in the room for this client. */
  reservation: string;
  expiresInMs: number;
  /** The room's node, when it is another node of a cluster. */
  address?: string;
  wsAddress?: string;
}

/** What `join` may carry beside the room id. */
export interface JoinOptions {
  password?: string;
  /** An invite from `createInvite`, in place of the password. */
  invite?: string;
  /** Passed to a plugin's join hook. */
  options?: Value;
}

/** The identity `authenticate` established. */
export interface Authenticated {
  userId: string;
  userName: string | null;
}

/** Reads a RoomInfo from the wire's snake_case map. */
export function roomInfo(wire: Record<string, unknown>): RoomInfo {
  return {
    id: String(wire["id"]),
    roomType: String(wire["room_type"]),
    name: String(wire["name"] ?? ""),
    public: Boolean(wire["public"]),
    members: Number(wire["members"]),
    maxClients: Number(wire["max_clients"]),
    passwordProtected: Boolean(wire["password_protected"]),
    locked: Boolean(wire["locked"]),
    metadata: (wire["metadata"] ?? null) as Value,
  };
}
