/**
 * MessagePack values as they travel, decoded so that they come back
 * exactly: binary as `Uint8Array`, 64-bit integers that do not fit a
 * JavaScript number as `bigint`, NaN and the infinities as themselves,
 * extension types as `ExtData`.
 *
 * @module
 */
import { Decoder, Encoder, ExtData } from "@msgpack/msgpack";

/** Any value the server carries for clients (message data, variables, method arguments and results). */
export type Value =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | ExtData
  | Value[]
  | { [key: string]: Value };

export { ExtData };

const encoder = new Encoder({ useBigInt64: true, ignoreUndefined: true });
const decoder = new Decoder({ useBigInt64: true });

/** Encodes `value` as MessagePack. `bigint` becomes a 64-bit integer; `undefined` fields are left out. */
export function encode(value: unknown): Uint8Array {
  return encoder.encode(value);
}

/**
 * Decodes one MessagePack value. 64-bit integers that fit a number
 * (`Number.isSafeInteger`) come back as numbers, the others as `bigint`.
 *
 * @throws {Error} When the bytes are not one MessagePack value.
 */
export function decode(bytes: Uint8Array): unknown {
  return narrow(decoder.decode(bytes));
}

/** Turns the `bigint`s that fit a number into numbers, in place for containers. */
function narrow(value: unknown): unknown {
  if (typeof value === "bigint") {
    const small = Number(value);
    return Number.isSafeInteger(small) ? small : value;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = narrow(value[i]);
    return value;
  }
  if (value !== null && typeof value === "object" && !(value instanceof Uint8Array) && !(value instanceof ExtData)) {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) record[key] = narrow(record[key]);
  }
  return value;
}
