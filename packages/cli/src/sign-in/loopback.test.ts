import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CliError } from '../errors.ts';
import { startLoopback } from './loopback.ts';

const get = async (port: number, path: string) => {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, text: await res.text() };
};

test('the callback with our state hands over the code; another state is refused and the wait goes on', async () => {
  const loopback = await startLoopback({ state: 'our-state' });
  try {
    assert.ok(loopback.port > 0);
    assert.equal((await get(loopback.port, '/')).status, 404);
    const wrong = await get(loopback.port, '/callback?code=evil&state=their-state');
    assert.equal(wrong.status, 400);
    assert.equal((await get(loopback.port, '/callback?code=evil')).status, 400);
    const right = await get(loopback.port, '/callback?code=the-code&state=our-state');
    assert.equal(right.status, 200);
    assert.match(right.text, /close this tab/);
    assert.equal(await loopback.code, 'the-code');
  } finally {
    loopback.close();
  }
});

test('it listens on 127.0.0.1 only', async () => {
  const loopback = await startLoopback({ state: 's' });
  try {
    await assert.rejects(fetch(`http://[::1]:${loopback.port}/callback?code=c&state=s`));
  } finally {
    loopback.close();
    await loopback.code.catch(() => {});
  }
});

test('an error with our state, or no callback in time, ends the wait with exit code 3', async () => {
  const failed = await startLoopback({ state: 's' });
  const page = await get(failed.port, '/callback?state=s&error=access_denied&error_description=denied');
  assert.equal(page.status, 400);
  await assert.rejects(failed.code, (e: CliError) => e.exitCode === 3 && /denied/.test(e.message));
  const slow = await startLoopback({ state: 's', timeoutMs: 20 });
  await assert.rejects(slow.code, (e: CliError) => e.exitCode === 3 && /did not finish/.test(e.message));
});
