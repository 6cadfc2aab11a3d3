import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { readLine } from './prompt.ts';

test('lines piped in one chunk are read one at a time; the rest waits for the next read', async () => {
  const input = new PassThrough();
  input.write('the password\r\n123456\n');
  assert.equal(await readLine(input), 'the password');
  assert.equal(await readLine(input), '123456');
  const later = readLine(input);
  input.write('65');
  setTimeout(() => input.end('4321\n'), 10);
  assert.equal(await later, '654321');
  assert.equal(await readLine(input), '');
});

test('the end of input that came between two reads gives an empty line, not a hang', async () => {
  const input = new PassThrough();
  input.end('only-the-password\n');
  assert.equal(await readLine(input), 'only-the-password');
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(await readLine(input), '');
});
