/**
 * Following a cluster's redirects: a room or a session that lives on
 * another node is reached over a connection to that node, at the
 * `ws_address` the redirect gives (docs/PROTOCOL.md, "Cluster").
 *
 * @module
 */
import { VampireError } from "./errors.js";

/** The answer to a request whose room or session lives on another node. */
export class Redirected extends VampireError {
  /** That node's WebSocket `host:port`, when it advertises one. */
  readonly wsAddress: string | undefined;
  /** The seat held there for a `join` (empty for a `resume`). */
  readonly reservation: string;
  /** The room it names (empty for a `resume`). */
  readonly room: string;
  /** For a `join_or_create`: the room was created for it. */
  readonly created: boolean;

  constructor(redirect: Record<string, unknown>) {
    super("server_busy", "the room lives on another node, which gives no WebSocket address");
    this.wsAddress = typeof redirect["ws_address"] === "string" ? redirect["ws_address"] : undefined;
    this.reservation = String(redirect["reservation"] ?? "");
    this.room = String(redirect["room"] ?? "");
    this.created = redirect["created"] === true;
  }
}

/** The URL of the node at `address` (`host:port`), over `wss` when `base` is. */
export function nodeUrl(address: string, base: string): string {
  const scheme = new URL(base).protocol === "wss:" ? "wss" : "ws";
  return `${scheme}://${address}/`;
}

/** What a link needs of a connection. */
export interface Linkable {
  readonly open: boolean;
  close(): Promise<void>;
}

/**
 * The connections to other nodes one client opened to follow redirects,
 * one per node, made on first use and kept while they are open.
 */
export class Links<L extends Linkable> {
  /** Connections being opened, by URL. */
  #opening = new Map<string, Promise<L>>();
  /** Connections that opened, by URL. */
  #opened = new Map<string, L>();
  readonly #connect: (url: string) => Promise<L>;

  constructor(connect: (url: string) => Promise<L>) {
    this.#connect = connect;
  }

  /** The connection to `url`, opened now unless one is open. @throws {VampireError} as `connect` does. */
  to(url: string): Promise<L> {
    const opened = this.#opened.get(url);
    if (opened?.open) return Promise.resolve(opened);
    let opening = this.#opening.get(url);
    if (!opening) {
      opening = this.#connect(url)
        .then((link) => {
          this.#opened.set(url, link);
          return link;
        })
        .finally(() => this.#opening.delete(url));
      this.#opening.set(url, opening);
    }
    return opening;
  }

  /** The connections that are open now. */
  get open(): L[] {
    return [...this.#opened.values()].filter((link) => link.open);
  }

  /** Closes every connection, those still opening once they open. */
  async close(): Promise<void> {
    await Promise.all([...this.#opening.values()].map((opening) => opening.catch(() => undefined)));
    await Promise.all(this.open.map((link) => link.close()));
  }
}
