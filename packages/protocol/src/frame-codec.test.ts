import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ProtocolError } from './errors.ts';
import { decodeFrame, encodeFrame } from './frame-codec.ts';
import { type Frame, MAX_JSON_BYTES } from './frame-types.ts';

const text = (value: string) => [...new TextEncoder().encode(value)];
const _json = (value: unknown) => text(JSON.stringify(value));
const u32 = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const _u16 = (n: number) => [(n >>> 8) & 255, n & 255];
const frame = (type: number, channel: number, ...payload: number[][]) =>
  new Uint8Array([type, ...u32(channel), ...payload.flat()]);

describe('frame codec round trip', () => {
  const frames: Frame[] = [
    {
      type: 'hello',
      version: 3,
      minVersion: 1,
      info: { agent: 'sesame', nonce: 'x', nested: { a: [1, 2] } },
    },
    { type: 'open', channel: 1, window: 2 * 1024 * 1024, maxData: 32768, spec: { kind: 'shell', cols: 80 } },
    { type: 'open', channel: 0xffff_ffff, window: 0, maxData: 1, spec: {} },
    { type: 'accept', channel: 2, window: 0xffff_ffff, maxData: 0xffff_ffff, info: { pid: 42 } },
    { type: 'reject', channel: 3, code: 'FORBIDDEN', message: 'no policy allows ssm:StartSession' },
    { type: 'data', channel: 4, data: new Uint8Array([0, 1, 2, 255]) },
    { type: 'data', channel: 4, data: new Uint8Array(0) },
    { type: 'window', channel: 5, increment: 1 },
    { type: 'window', channel: 5, increment: 0xffff_ffff },
    { type: 'resize', channel: 6, cols: 1, rows: 65535 },
    { type: 'eof', channel: 7 },
    { type: 'exit', channel: 8, code: 0, signal: null },
    { type: 'exit', channel: 8, code: -2147483648, signal: 'SIGKILL' },
    { type: 'exit', channel: 8, code: null, signal: 'SIGTÉRM' },
    { type: 'exit', channel: 8, code: null, signal: null },
    { type: 'close', channel: 9, code: '', message: '' },
    { type: 'close', channel: 9, code: 'FLOW_CONTROL', message: 'window exceeded ✓' },
    { type: 'ping', nonce: 0 },
    { type: 'pong', nonce: 0xffff_ffff },
    { type: 'goaway', code: 'SHUTDOWN', message: 'server restarting' },
  ];
  for (const original of frames) {
    test(`${original.type} ${JSON.stringify(original, (_k, v) => (v instanceof Uint8Array ? [...v] : v))}`, () => {
      assert.deepEqual(decodeFrame(encodeFrame(original)), original);
    });
  }

  test('the wire layout is u8 type, u32 big-endian channel, payload', () => {
    assert.deepEqual(
      [...encodeFrame({ type: 'window', channel: 0x01020304, increment: 0x10 })],
      [6, 1, 2, 3, 4, 0, 0, 0, 16],
    );
    assert.deepEqual(
      [...encodeFrame({ type: 'resize', channel: 7, cols: 0x102, rows: 3 })],
      [7, 0, 0, 0, 7, 1, 2, 0, 3],
    );
    assert.deepEqual(
      [...encodeFrame({ type: 'exit', channel: 1, code: -1, signal: 'HUP' })],
      [9, 0, 0, 0, 1, 1, 255, 255, 255, 255, ...text('HUP')],
    );
    assert.deepEqual([...encodeFrame({ type: 'ping', nonce: 258 })], [11, 0, 0, 0, 0, 0, 0, 1, 2]);
  });

  test('decoded data is a view of the input, not a copy', () => {
    const bytes = frame(5, 1, [10, 20, 30]);
    const decoded = decodeFrame(bytes);
    assert.equal(decoded.type, 'data');
    assert.ok(decoded.type === 'data' && decoded.data.buffer === bytes.buffer);
    bytes[5] = 99;
    assert.ok(decoded.type === 'data' && decoded.data[0] === 99);
  });

  test('decodes a frame that sits at an offset inside a larger buffer', () => {
    const backing = new Uint8Array(64);
    backing.set(frame(6, 3, u32(500)), 13);
    assert.deepEqual(decodeFrame(backing.subarray(13, 22)), { type: 'window', channel: 3, increment: 500 });
  });
});

describe('frame codec refuses to encode invalid frames', () => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const cases: [string, Frame, string][] = [
    [
      'window increment 0',
      { type: 'window', channel: 1, increment: 0 },
      'increment must be an integer in 1..',
    ],
    ['window increment too big', { type: 'window', channel: 1, increment: 2 ** 32 }, 'increment must be'],
    [
      'resize 0 rows',
      { type: 'resize', channel: 1, cols: 80, rows: 0 },
      'rows must be an integer in 1..65535',
    ],
    [
      'data on channel 0',
      { type: 'data', channel: 0, data: new Uint8Array(1) },
      'channel must be an integer in 1..2^32-1',
    ],
    ['fractional channel', { type: 'eof', channel: 1.5 }, 'channel must be an integer'],
    [
      'spec array',
      { type: 'open', channel: 1, window: 1, maxData: 1, spec: [] as never },
      'spec must be a JSON object',
    ],
    [
      'spec cyclic',
      { type: 'open', channel: 1, window: 1, maxData: 1, spec: cyclic },
      'spec cannot be serialized as JSON',
    ],
    [
      'spec BigInt',
      { type: 'open', channel: 1, window: 1, maxData: 1, spec: { n: 1n } },
      'cannot be serialized',
    ],
    [
      'maxData 0',
      { type: 'accept', channel: 1, window: 1, maxData: 0, info: {} },
      'maxData must be an integer in 1..',
    ],
    [
      'info too big',
      { type: 'accept', channel: 1, window: 1, maxData: 1, info: { x: 'y'.repeat(MAX_JSON_BYTES) } },
      'the limit is',
    ],
    [
      'exit fractional code',
      { type: 'exit', channel: 1, code: 1.5, signal: null },
      'code must be an integer',
    ],
    [
      'hello minVersion > version',
      { type: 'hello', version: 1, minVersion: 2, info: {} },
      'minVersion must be an integer in 1..1',
    ],
    [
      'close code not a string',
      { type: 'close', channel: 1, code: 5 as never, message: '' },
      'code and message must be strings',
    ],
    ['unknown type', { type: 'nope' } as never, 'unknown frame type'],
  ];
  for (const [name, bad, message] of cases) {
    test(name, () => {
      assert.throws(
        () => encodeFrame(bad),
        (error: unknown) =>
          error instanceof ProtocolError &&
          error.code === 'MALFORMED_FRAME' &&
          error.message.includes(message),
      );
    });
  }
});
