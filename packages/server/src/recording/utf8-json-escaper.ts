import { Buffer, isUtf8 } from 'node:buffer';
import { TextDecoder } from 'node:util';

// Turns a stream of bytes into the inside of a JSON string (no quotes), chunk by chunk, as a streaming UTF-8
// decoder followed by JSON.stringify would, but without building a string on the fast path: valid UTF-8 is
// copied byte for byte with only `"`, `\` and control characters escaped. A multi-byte character split across
// chunks is carried over to the next chunk, so it comes out whole. Invalid bytes become U+FFFD exactly as
// `new TextDecoder('utf-8', { ignoreBOM: true })` decodes them (a byte order mark is kept: every byte counts).

const COPY = 0;
const SHORT = 1;
const UNICODE = 2;

/** How each byte is written: copied, as a two-character escape, or as \u00XX. */
const KIND = new Uint8Array(256);
/** The letter after the backslash for the two-character escapes. */
const SHORT_LETTER = new Uint8Array(256);
const HEX = new Uint8Array([48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102]);

for (let b = 0; b < 0x20; b++) KIND[b] = UNICODE;
for (const [byte, letter] of [
  [0x08, 'b'],
  [0x09, 't'],
  [0x0a, 'n'],
  [0x0c, 'f'],
  [0x0d, 'r'],
  [0x22, '"'],
  [0x5c, '\\'],
] as const) {
  KIND[byte] = SHORT;
  SHORT_LETTER[byte] = letter.charCodeAt(0);
}

const NOTHING = new Uint8Array(0);
/** Below this many bytes (a keystroke, an echo) the plain byte loop is faster than setting up word access. */
const WORDS_FROM_BYTES = 32;

const BACKSLASH = 0x5c;
const U = 0x75;
const ZERO = 0x30;

export class Utf8JsonEscaper {
  #carry = NOTHING;
  #decoder = new TextDecoder('utf-8', { ignoreBOM: true });

  /** The most bytes `write` can produce for `length` input bytes (six per byte, carried bytes included). */
  static maxBytes(length: number): number {
    return 6 * (length + 3);
  }

  /** Escapes the complete characters of `data` (after any carried bytes) into `out` at `at`; returns the end. */
  write(data: Uint8Array, out: Uint8Array, at: number): number {
    let bytes = data;
    if (this.#carry.length > 0) {
      bytes = Buffer.allocUnsafe(this.#carry.length + data.length);
      bytes.set(this.#carry);
      bytes.set(data, this.#carry.length);
    }
    const end = completeLength(bytes);
    this.#carry = end < bytes.length ? bytes.slice(end) : NOTHING;
    const body = bytes.subarray(0, end);
    return isUtf8(body) ? escapeValid(body, out, at) : this.#escapeDecoded(body, out, at);
  }

  /** Writes the bytes still carried (an unfinished character) as replacement characters; returns the end. */
  end(out: Uint8Array, at: number): number {
    const carried = this.#carry;
    this.#carry = NOTHING;
    return carried.length > 0 ? this.#escapeDecoded(carried, out, at) : at;
  }

  #escapeDecoded(bytes: Uint8Array, out: Uint8Array, at: number): number {
    const json = JSON.stringify(this.#decoder.decode(bytes));
    const encoded = Buffer.from(json.slice(1, -1), 'utf8');
    out.set(encoded, at);
    return at + encoded.length;
  }
}

/**
 * The length of the prefix of `bytes` that ends on a character boundary: a trailing lead byte whose sequence
 * is not finished yet is left for the next chunk. Splitting before any lead byte is safe even when the
 * sequence turns out invalid, because the WHATWG decoder emits one U+FFFD for an unfinished sequence whether
 * it is cut by an unexpected byte or by the end of input.
 */
export function completeLength(bytes: Uint8Array): number {
  const n = bytes.length;
  for (let i = n - 1; i >= 0 && i >= n - 3; i--) {
    const b = bytes[i]!;
    if (b < 0x80) return n;
    if (b >= 0xc0) {
      const length = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
      return i + length > n ? i : n;
    }
  }
  return n;
}

/**
 * Copies valid UTF-8 with JSON escapes. Four bytes at a time are tested with SWAR bit tricks (any byte below
 * 0x20, or equal to `"` or `\`) and copied as one word when none needs escaping: plain text goes about twice
 * as fast as a byte loop.
 */
function escapeValid(src: Uint8Array, out: Uint8Array, at: number): number {
  const n = src.length;
  if (n < WORDS_FROM_BYTES) {
    let j = at;
    for (let i = 0; i < n; i++) j = escapeByte(src[i]!, out, j);
    return j;
  }
  const words = new DataView(src.buffer, src.byteOffset, n);
  const outWords = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let i = 0;
  let j = at;
  for (const last = n - 4; i <= last; ) {
    const x = words.getUint32(i, true);
    const quote = x ^ 0x22222222;
    const backslash = x ^ 0x5c5c5c5c;
    const special =
      ((x - 0x20202020) & ~x) | ((quote - 0x01010101) & ~quote) | ((backslash - 0x01010101) & ~backslash);
    if ((special & 0x80808080) === 0) {
      outWords.setUint32(j, x, true);
      i += 4;
      j += 4;
    } else {
      for (const end = i + 4; i < end; i++) j = escapeByte(src[i]!, out, j);
    }
  }
  for (; i < n; i++) j = escapeByte(src[i]!, out, j);
  return j;
}

function escapeByte(b: number, out: Uint8Array, at: number): number {
  const kind = KIND[b];
  if (kind === COPY) {
    out[at] = b;
    return at + 1;
  }
  out[at] = BACKSLASH;
  if (kind === SHORT) {
    out[at + 1] = SHORT_LETTER[b]!;
    return at + 2;
  }
  out[at + 1] = U;
  out[at + 2] = ZERO;
  out[at + 3] = ZERO;
  out[at + 4] = HEX[b >> 4]!;
  out[at + 5] = HEX[b & 15]!;
  return at + 6;
}
