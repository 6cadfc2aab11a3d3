import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ProtocolError } from './errors.ts';
import { decodeFrame } from './frame-codec.ts';
import { MAX_JSON_BYTES } from './frame-types.ts';

const text = (value: string) => [...new TextEncoder().encode(value)];
const json = (value: unknown) => text(JSON.stringify(value));
const u32 = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const u16 = (n: number) => [(n >>> 8) & 255, n & 255];
const frame = (type: number, channel: number, ...payload: number[][]) =>
  new Uint8Array([type, ...u32(channel), ...payload.flat()]);

describe('frame codec rejects malformed input', () => {
  type Case = [
    name: string,
    bytes: Uint8Array,
    code: string,
    message: string,
    channel?: number,
    max?: number,
  ];
  const tooBig = `{"x":"${'a'.repeat(MAX_JSON_BYTES)}"}`;
  const cases: Case[] = [
    [
      'empty message',
      new Uint8Array(0),
      'MALFORMED_FRAME',
      'frame is 0 bytes, shorter than the 5-byte header',
    ],
    ['truncated header', new Uint8Array([5, 0, 0, 1]), 'MALFORMED_FRAME', 'shorter than the 5-byte header'],
    ['type 0', frame(0, 1), 'UNKNOWN_FRAME_TYPE', 'unknown frame type 0 on channel 1'],
    ['type 14', frame(14, 0), 'UNKNOWN_FRAME_TYPE', 'unknown frame type 14'],
    ['type 255', frame(255, 7, [1, 2]), 'UNKNOWN_FRAME_TYPE', 'unknown frame type 255'],
    [
      'hello on a channel',
      frame(1, 1, u16(1), u16(1), json({})),
      'MALFORMED_FRAME',
      'hello frame on channel 1: connection frames must use channel 0',
    ],
    [
      'hello short',
      frame(1, 0, u16(1), [0]),
      'MALFORMED_FRAME',
      'hello frame on channel 0: payload too short for minVersion',
    ],
    [
      'hello minVersion > version',
      frame(1, 0, u16(1), u16(2), json({})),
      'MALFORMED_FRAME',
      'minVersion <= version',
    ],
    ['hello minVersion 0', frame(1, 0, u16(1), u16(0), json({})), 'MALFORMED_FRAME', '1 <= minVersion'],
    ['hello info missing', frame(1, 0, u16(1), u16(1)), 'MALFORMED_FRAME', 'info is missing'],
    [
      'hello info not JSON',
      frame(1, 0, u16(1), u16(1), text('{')),
      'MALFORMED_FRAME',
      'info is not valid JSON',
    ],
    [
      'hello info array',
      frame(1, 0, u16(1), u16(1), text('[]')),
      'MALFORMED_FRAME',
      'info must be a JSON object, got an array',
    ],
    ['hello info null', frame(1, 0, u16(1), u16(1), text('null')), 'MALFORMED_FRAME', 'got null'],
    ['hello info number', frame(1, 0, u16(1), u16(1), text('7')), 'MALFORMED_FRAME', 'got number'],
    [
      'hello info bad UTF-8',
      frame(1, 0, u16(1), u16(1), [0x7b, 0xff, 0x7d]),
      'MALFORMED_FRAME',
      'info is not valid UTF-8',
    ],
    [
      'hello info too big',
      frame(1, 0, u16(1), u16(1), text(tooBig)),
      'MALFORMED_FRAME',
      `the limit is ${MAX_JSON_BYTES}`,
    ],
    [
      'open on channel 0',
      frame(2, 0, u32(1), u32(1), json({})),
      'MALFORMED_FRAME',
      'open frame on channel 0: channel frames need a channel id > 0',
    ],
    [
      'open maxData 0',
      frame(2, 3, u32(1), u32(0), json({})),
      'MALFORMED_FRAME',
      'open frame on channel 3: maxData must be > 0',
      3,
    ],
    ['open short', frame(2, 3, u32(1)), 'MALFORMED_FRAME', 'payload too short for maxData', 3],
    [
      'open spec string',
      frame(2, 3, u32(1), u32(1), json('shell')),
      'MALFORMED_FRAME',
      'spec must be a JSON object, got string',
      3,
    ],
    [
      'accept info missing',
      frame(3, 4, u32(1), u32(1)),
      'MALFORMED_FRAME',
      'accept frame on channel 4: info is missing',
      4,
    ],
    [
      'reject code number',
      frame(4, 5, json({ code: 1, message: '' })),
      'MALFORMED_FRAME',
      '"code" must be a string',
      5,
    ],
    [
      'reject message missing',
      frame(4, 5, json({ code: 'X' })),
      'MALFORMED_FRAME',
      '"message" must be a string',
      5,
    ],
    [
      'window increment 0',
      frame(6, 3, u32(0)),
      'MALFORMED_FRAME',
      'window frame on channel 3: increment must be > 0',
      3,
    ],
    ['window trailing byte', frame(6, 3, u32(1), [0]), 'MALFORMED_FRAME', '1 unexpected trailing byte', 3],
    ['window short', frame(6, 3, [0, 0, 1]), 'MALFORMED_FRAME', 'payload too short for increment', 3],
    [
      'resize 0 cols',
      frame(7, 3, u16(0), u16(24)),
      'MALFORMED_FRAME',
      'cols and rows must be >= 1 (got 0x24)',
      3,
    ],
    [
      'resize trailing',
      frame(7, 3, u16(80), u16(24), [1, 2]),
      'MALFORMED_FRAME',
      '2 unexpected trailing bytes',
      3,
    ],
    ['resize short', frame(7, 3, u16(80)), 'MALFORMED_FRAME', 'payload too short for rows', 3],
    [
      'eof with payload',
      frame(8, 3, [0]),
      'MALFORMED_FRAME',
      'eof frame on channel 3: 1 unexpected trailing byte',
      3,
    ],
    ['exit unknown flags', frame(9, 3, [2], u32(0)), 'MALFORMED_FRAME', 'unknown flag bits 0x2', 3],
    [
      'exit code without flag',
      frame(9, 3, [0], u32(1)),
      'MALFORMED_FRAME',
      'code must be 0 when the code-present flag is clear',
      3,
    ],
    ['exit short', frame(9, 3, [1], u16(0)), 'MALFORMED_FRAME', 'payload too short for code', 3],
    ['exit bad signal', frame(9, 3, [0], u32(0), [0xc3]), 'MALFORMED_FRAME', 'signal is not valid UTF-8', 3],
    [
      'close not JSON',
      frame(10, 3, text('bye')),
      'MALFORMED_FRAME',
      'close frame on channel 3: payload is not valid JSON',
      3,
    ],
    [
      'ping short',
      frame(11, 0, [1]),
      'MALFORMED_FRAME',
      'ping frame on channel 0: payload too short for nonce',
    ],
    ['ping trailing', frame(11, 0, u32(1), [1]), 'MALFORMED_FRAME', 'unexpected trailing byte'],
    ['pong on a channel', frame(12, 2, u32(1)), 'MALFORMED_FRAME', 'connection frames must use channel 0'],
    [
      'goaway missing message',
      frame(13, 0, json({ code: 'X' })),
      'MALFORMED_FRAME',
      '"message" must be a string',
    ],
    [
      'data over the limit',
      frame(5, 9, new Array(100).fill(0)),
      'FRAME_TOO_LARGE',
      'data frame on channel 9: 105 bytes exceeds the 64-byte frame limit',
      9,
      64,
    ],
    [
      'hello over the limit',
      frame(1, 0, u16(1), u16(1), json({ pad: 'x'.repeat(80) })),
      'FRAME_TOO_LARGE',
      'hello frame on channel 0',
      undefined,
      64,
    ],
  ];
  for (const [name, bytes, code, message, channel, max] of cases) {
    test(name, () => {
      assert.throws(
        () => decodeFrame(bytes, max),
        (error: unknown) => {
          assert.ok(error instanceof ProtocolError, `expected ProtocolError, got ${error}`);
          assert.equal(error.code, code);
          assert.ok(error.message.includes(message), `"${error.message}" should include "${message}"`);
          assert.equal(error.channel, channel);
          return true;
        },
      );
    });
  }
});
