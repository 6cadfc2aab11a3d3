import assert from 'node:assert/strict';
import { test } from 'node:test';
import { transportClosedMessage } from './errors.ts';

test('a closed connection is said in words: the peer’s reason when it gave one, else what the close code means', () => {
  assert.equal(
    transportClosedMessage(4005, 'RATE_LIMITED: too many connections'),
    'connection closed (4005 RATE_LIMITED: too many connections)',
  );
  assert.equal(
    transportClosedMessage(1006, ''),
    'the connection was lost (the network or the other side went away)',
  );
  assert.equal(
    transportClosedMessage(1009, ''),
    'the connection was closed: a message was larger than the other side accepts (1009)',
  );
  assert.equal(transportClosedMessage(1000, ''), 'connection closed (1000)');
});
