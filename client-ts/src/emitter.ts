/**
 * A small typed event emitter, the same in browsers and Node.js.
 *
 * @module
 */

/** Listener signatures by event name. */
export type EventMap = Record<string, (...args: never[]) => void>;

/** Calls the listeners of each event in the order they were added. */
export class Emitter<Events extends EventMap> {
  #listeners = new Map<keyof Events, Set<Events[keyof Events]>>();

  /** Calls `listener` for every `event` from now on; returns a function that stops it. */
  on<E extends keyof Events>(event: E, listener: Events[E]): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener);
    return () => this.off(event, listener);
  }

  /** Calls `listener` for the next `event` only. */
  once<E extends keyof Events>(event: E, listener: Events[E]): () => void {
    const wrapped = ((...args: Parameters<Events[E]>) => {
      this.off(event, wrapped);
      (listener as (...a: Parameters<Events[E]>) => void)(...args);
    }) as Events[E];
    return this.on(event, wrapped);
  }

  /** Stops calling `listener` for `event`. */
  off<E extends keyof Events>(event: E, listener: Events[E]): void {
    this.#listeners.get(event)?.delete(listener);
  }

  /** Calls every listener of `event` with `args`; a listener that throws does not stop the others. */
  protected emit<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): void {
    for (const listener of [...(this.#listeners.get(event) ?? [])]) {
      try {
        (listener as (...a: Parameters<Events[E]>) => void)(...args);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}
