import { ProtocolError } from './errors.ts';
import { type JsonObject, MAX_JSON_BYTES } from './frame-types.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads a frame payload field by field; every failure is a MALFORMED_FRAME ProtocolError naming the frame. */
export class PayloadReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #where: string;
  readonly #channel: number | undefined;
  #offset: number;

  constructor(bytes: Uint8Array, offset: number, where: string, channel: number | undefined) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#offset = offset;
    this.#where = where;
    this.#channel = channel;
  }

  fail(problem: string): never {
    throw new ProtocolError('MALFORMED_FRAME', `${this.#where}: ${problem}`, this.#channel);
  }

  #take(size: number, field: string): number {
    const at = this.#offset;
    if (this.#bytes.length - at < size) {
      this.fail(`payload too short for ${field} (${this.#bytes.length - at} bytes left, need ${size})`);
    }
    this.#offset = at + size;
    return at;
  }

  u8(field: string): number {
    return this.#view.getUint8(this.#take(1, field));
  }

  u16(field: string): number {
    return this.#view.getUint16(this.#take(2, field));
  }

  u32(field: string): number {
    return this.#view.getUint32(this.#take(4, field));
  }

  i32(field: string): number {
    return this.#view.getInt32(this.#take(4, field));
  }

  /** The remaining bytes as a view (no copy). */
  rest(): Uint8Array {
    const rest = this.#bytes.subarray(this.#offset);
    this.#offset = this.#bytes.length;
    return rest;
  }

  /** The remaining bytes as strict UTF-8. */
  text(field: string): string {
    try {
      return utf8.decode(this.rest());
    } catch {
      return this.fail(`${field} is not valid UTF-8`);
    }
  }

  /** The remaining bytes as a UTF-8 JSON object of at most MAX_JSON_BYTES. */
  json(field: string): JsonObject {
    const size = this.#bytes.length - this.#offset;
    if (size > MAX_JSON_BYTES) this.fail(`${field} is ${size} bytes of JSON, the limit is ${MAX_JSON_BYTES}`);
    if (size === 0) this.fail(`${field} is missing (expected a JSON object)`);
    const text = this.text(field);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return this.fail(`${field} is not valid JSON`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.fail(
        `${field} must be a JSON object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`,
      );
    }
    return value as JsonObject;
  }

  /** A JSON `{code: string, message: string}` payload. */
  codeAndMessage(): { code: string; message: string } {
    const body = this.json('payload');
    if (typeof body.code !== 'string') this.fail('"code" must be a string');
    if (typeof body.message !== 'string') this.fail('"message" must be a string');
    return { code: body.code, message: body.message };
  }

  /** Fixed-size payloads must not carry trailing bytes. */
  end(): void {
    const left = this.#bytes.length - this.#offset;
    if (left !== 0) this.fail(`${left} unexpected trailing byte${left === 1 ? '' : 's'}`);
  }
}
