import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeFrame, encodeDataFrame, encodeFrame } from './frame-codec.ts';

test('the data fast path encodes exactly what the general encoder does', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2 ** 32 - 1 }),
      fc.uint8Array({ minLength: 1, maxLength: 512 }),
      (channel, data) => {
        const fast = encodeDataFrame(channel, data);
        assert.deepEqual(fast, encodeFrame({ type: 'data', channel, data }));
        const decoded = decodeFrame(fast);
        assert.equal(decoded.type, 'data');
        assert.deepEqual(decoded.type === 'data' && [decoded.channel, decoded.data], [channel, data]);
      },
    ),
  );
});

test('a decoded payload sent on reuses its frame: the header is rewritten in place, the payload is not copied', () => {
  const payload = new Uint8Array([104, 105, 33]);
  const received = encodeFrame({ type: 'data', channel: 7, data: payload });
  const decoded = decodeFrame(received);
  assert.ok(decoded.type === 'data');
  const forwarded = encodeDataFrame(0x01020304, decoded.data);
  assert.equal(forwarded.buffer, received.buffer);
  assert.deepEqual(forwarded, encodeFrame({ type: 'data', channel: 0x01020304, data: payload }));
  assert.deepEqual(decoded.data, payload);
  // Only once, and only the payload decoded last: anything else is copied into a frame of its own.
  const again = encodeDataFrame(9, decoded.data);
  assert.notEqual(again.buffer, received.buffer);
  assert.deepEqual(again, encodeFrame({ type: 'data', channel: 9, data: payload }));
  const part = decodeFrame(encodeFrame({ type: 'data', channel: 7, data: payload }));
  assert.ok(part.type === 'data');
  assert.notEqual(encodeDataFrame(9, part.data.subarray(1)).buffer, part.data.buffer);
});
