/**
 * Reconnection: the policy (exponential backoff with jitter), what a
 * client keeps to resume its session (the resume token, the count of
 * numbered frames it handled, the frames the server may not have read),
 * and the rules of the protocol's "Sessions and reconnection".
 *
 * @module
 */

/** How a client resumes its session after the connection drops. */
export interface ReconnectOptions {
  /** The wait before the first attempt. Default 100 ms. */
  firstDelayMs?: number;
  /** The longest wait between attempts (each doubles the last). Default 5 000 ms. */
  maxDelayMs?: number;
  /** How long to keep trying before giving up (`lost`). Default 30 000 ms, the server's default window. */
  giveUpAfterMs?: number;
}

/** The wait before attempt `attempt` (1 for the first): doubled per attempt up to the most, less up to a quarter at random. */
export function backoff(options: ReconnectOptions, attempt: number): number {
  const first = options.firstDelayMs ?? 100;
  const most = options.maxDelayMs ?? 5_000;
  const delay = Math.min(first * 2 ** Math.min(attempt - 1, 16), most);
  return delay - delay * (Math.random() / 4);
}

/** Whether a connection the server closed with `farewell` (none: the network) is worth resuming. */
export function mayResume(farewell: string | undefined): boolean {
  return farewell === undefined || farewell === "timeout" || farewell === "slow_consumer";
}

/** Whether a message counts in the session's sequence numbers. */
export function isNumbered(message: Record<string, unknown>): boolean {
  return message["type"] !== "welcome" && message["closing"] !== true && message["unreliable"] !== true;
}

/** Bytes of frames {@link SentLog} keeps at most. */
const SENT_LOG_BYTES = 1024 * 1024;

/** The frames written that the server may not have read (every frame after the last one answered). */
export class SentLog {
  #frames: { ordinal: number; id: unknown; bytes: Uint8Array }[] = [];
  #bytes = 0;
  #written = 0;

  /** Records a frame (request `id`, if any) as written next. */
  push(id: unknown, bytes: Uint8Array): void {
    this.#written += 1;
    this.#frames.push({ ordinal: this.#written, id, bytes });
    this.#bytes += bytes.length;
    while (this.#bytes > SENT_LOG_BYTES && this.#frames.length > 0) {
      this.#bytes -= this.#frames.shift()!.bytes.length;
    }
  }

  /** Request `id` was answered: the server read it and every frame before. */
  answered(id: unknown): void {
    const at = this.#frames.findIndex((sent) => sent.id === id);
    if (at < 0) return;
    for (const sent of this.#frames.splice(0, at + 1)) this.#bytes -= sent.bytes.length;
  }

  /** The frames after the first `read`, to write again, in order. */
  unread(read: number): Uint8Array[] {
    while (this.#frames.length > 0 && this.#frames[0]!.ordinal <= read) {
      this.#bytes -= this.#frames.shift()!.bytes.length;
    }
    return this.#frames.map((sent) => sent.bytes);
  }
}
