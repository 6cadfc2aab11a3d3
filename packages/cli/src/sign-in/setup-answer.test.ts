import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CliError } from '../errors.ts';
import { parseSetupAnswer } from './sign-in-commands.ts';

test('a pasted setup link gives the token and the server, a bare token only the token', () => {
  assert.deepEqual(parseSetupAnswer('  https://sesame.example.com:8443/setup#token=st_abc-123  \n'), {
    token: 'st_abc-123',
    url: 'https://sesame.example.com:8443',
  });
  assert.deepEqual(parseSetupAnswer('http://127.0.0.1:8080/reset#token=st_x'), {
    token: 'st_x',
    url: 'http://127.0.0.1:8080',
  });
  assert.deepEqual(parseSetupAnswer('st_abc-123'), { token: 'st_abc-123' });
});

test('a link without its token, a broken link or nothing: a clear error, exit code 2', () => {
  for (const [answer, message] of [
    ['https://sesame.example.com/setup', /has no token \(it ends with #token=…\)/],
    ['https://sesame.example.com/setup#toke', /has no token/],
    ['https://[nope/setup#token=x', /not a valid URL: paste it whole/],
    ['   ', /no setup link or token was given/],
  ] as const) {
    assert.throws(
      () => parseSetupAnswer(answer),
      (error: unknown) => error instanceof CliError && error.exitCode === 2 && message.test(error.message),
      answer,
    );
  }
});
