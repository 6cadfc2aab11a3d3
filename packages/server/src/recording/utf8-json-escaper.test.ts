import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';
import { TextDecoder } from 'node:util';
import fc from 'fast-check';
import { completeLength, Utf8JsonEscaper } from './utf8-json-escaper.ts';

/** Escapes `chunks` one by one (then the end), returning each piece as JSON string content. */
function escapePieces(chunks: Uint8Array[]): string[] {
  const escaper = new Utf8JsonEscaper();
  const pieces = chunks.map((chunk) => {
    const out = Buffer.alloc(Utf8JsonEscaper.maxBytes(chunk.length));
    return out.toString('utf8', 0, escaper.write(chunk, out, 0));
  });
  const out = Buffer.alloc(Utf8JsonEscaper.maxBytes(0));
  pieces.push(out.toString('utf8', 0, escaper.end(out, 0)));
  return pieces;
}

function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  return chunks;
}

const wholeDecode = (bytes: Uint8Array) => new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);

/** Bytes that make decoding interesting: ASCII, escapes, lead/continuation bytes, invalid bytes, a BOM. */
const interestingBytes = fc.array(
  fc.oneof(
    fc.integer({ min: 0, max: 255 }).map((b) => [b]),
    fc.constantFrom(
      [0x22],
      [0x5c],
      [0x0a],
      [0x1b],
      [0x7f],
      [0xef, 0xbb, 0xbf],
      [0xed, 0xa0, 0x80],
      [0xc0, 0x80],
    ),
    fc.string({ unit: 'binary' }).map((s) => [...Buffer.from(s, 'utf8')]),
  ),
  { maxLength: 40 },
);

describe('Utf8JsonEscaper', () => {
  it('escapes like JSON.stringify of a streaming decode, however the bytes are split', () => {
    fc.assert(
      fc.property(interestingBytes, fc.array(fc.nat(), { maxLength: 8 }), (groups, cuts) => {
        const bytes = Uint8Array.from(groups.flat());
        const pieces = escapePieces(split(bytes, cuts));
        const decoded = pieces.map((piece) => JSON.parse(`"${piece}"`) as string); // each piece is valid alone
        assert.equal(decoded.join(''), wholeDecode(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('produces the same bytes as JSON.stringify for valid UTF-8', () => {
    const text = 'a"b\\c\u0000\u0001\b\t\n\f\r\u001b[0m\u007f é € 😀 \u2028 \ufeff';
    const [piece] = escapePieces([Buffer.from(text)]);
    assert.equal(`"${piece}"`, JSON.stringify(text));
  });

  it('matches JSON.stringify byte for byte on any valid text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => {
        assert.equal(`"${escapePieces([Buffer.from(text)]).join('')}"`, JSON.stringify(text));
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps a character split across chunks whole', () => {
    const euro = Buffer.from('€😀');
    const chunks = [euro.subarray(0, 1), euro.subarray(1, 2), euro.subarray(2, 4), euro.subarray(4)];
    assert.deepEqual(escapePieces(chunks), ['', '', '€', '😀', '']);
  });

  it('writes an unfinished character at the end as U+FFFD', () => {
    assert.deepEqual(escapePieces([Buffer.from([0x41, 0xf0, 0x9f])]), ['A', '\ufffd']);
  });

  it('finds the end of the last complete character', () => {
    const cases: [number[], number][] = [
      [[], 0],
      [[0x41], 1],
      [[0x41, 0xe2], 1],
      [[0x41, 0xe2, 0x82], 1],
      [[0xe2, 0x82, 0xac], 3],
      [[0xf0, 0x9f, 0x98], 0],
      [[0xf0, 0x9f, 0x98, 0x80], 4],
      [[0x80, 0x80, 0x80], 3],
      [[0xc3], 0],
      [[0xff], 0],
    ];
    for (const [bytes, expected] of cases)
      assert.equal(completeLength(Uint8Array.from(bytes)), expected, `${bytes}`);
  });
});
