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
