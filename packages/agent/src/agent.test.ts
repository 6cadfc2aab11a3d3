import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { attemptAfterClose, backoffDelay } from './agent.ts';

describe('reconnect backoff', () => {
  it('doubles from the initial delay up to the maximum, with jitter in [delay/2, delay]', () => {
    const low = () => 0;
    const high = () => 1;
    assert.equal(backoffDelay(0, 500, 60_000, high), 500);
    assert.equal(backoffDelay(0, 500, 60_000, low), 250);
    assert.equal(backoffDelay(3, 500, 60_000, high), 4000);
    assert.equal(backoffDelay(20, 500, 60_000, high), 60_000);
    assert.equal(backoffDelay(20, 500, 60_000, low), 30_000);
    assert.equal(backoffDelay(10_000, 500, 60_000, high), 60_000, 'no overflow after many attempts');
  });

  it('starts over only after a connection that finished its handshake and stayed up a minute', () => {
    const t = 1_000_000;
    assert.equal(attemptAfterClose(7, t, t + 60_001), 0, 'stable: start over');
    assert.equal(attemptAfterClose(7, t, t + 2_000), 7, 'dropped soon after the handshake');
    // The server checks the signature after the hellos; a store that hangs closes it at its handshake timeout.
    assert.equal(attemptAfterClose(7, t, t + 10_500), 7, "closed at the server's handshake timeout");
    assert.equal(attemptAfterClose(7, undefined, t + 15_000), 7, 'hung until the handshake timeout');
  });
});
