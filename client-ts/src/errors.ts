/**
 * What can go wrong, with the server's stable error codes.
 *
 * @module
 */

/** The codes of docs/PROTOCOL.md's "Error codes", plus `closed` and `timeout` for the connection itself. */
export type ErrorCode =
  | "invalid_frame"
  | "frame_too_large"
  | "invalid_request"
  | "unknown_operation"
  | "room_not_found"
  | "room_full"
  | "room_locked"
  | "already_in_room"
  | "not_in_room"
  | "not_authenticated"
  | "signed_in_elsewhere"
  | "not_authorized"
  | "method_not_found"
  | "variable_not_found"
  | "variable_limit"
  | "response_too_large"
  | "room_error"
  | "unknown_room_type"
  | "plugin_error"
  | "server_busy"
  | "rate_limited"
  | "quota_exceeded"
  | "udp_unavailable"
  | "timeout"
  | "slow_consumer"
  | "server_shutdown"
  | "internal"
  | "closed"
  | (string & {});

/** A request the server refused, or a connection that ended: `code` is what programs match, `message` is for people. */
export class VampireError extends Error {
  /** The server's error code (or `closed` when the connection ended first). */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = "VampireError";
    this.code = code;
  }
}
