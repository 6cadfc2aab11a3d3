import assert from 'node:assert/strict';
import { test } from 'node:test';
import { printable, show } from './output.ts';

test('what a server or an agent said reaches the terminal with its control characters escaped', () => {
  // A window-title OSC, an erase-line, a carriage return and a clipboard write (OSC 52), as a hostname could hold.
  const hostile = '\x1b]0;pwned\x07\x1b[2K\rweb-1\x1b]52;c;ZWNobyBoaQ==\x07';
  assert.equal(show(hostile), '\\x1B]0;pwned\\x07\\x1B[2K\\x0Dweb-1\\x1B]52;c;ZWNobyBoaQ==\\x07');
  assert.equal(show(['10.0.0.1', '\x9b31m']), '10.0.0.1,\\x9B31m');
  assert.equal(show({ Name: 'a\x7fb', env: 'gpj\u202e' }), 'Name=a\\x7Fb,env=gpj\\u202E');
  assert.equal(show('wéb-01.例え'), 'wéb-01.例え');
  assert.equal(show(null), '-');
});

test('messages keep their tabs and line breaks, and lose everything else a terminal would act on', () => {
  assert.equal(printable('line one\n\tline two\x1b[2J', { message: true }), 'line one\n\tline two\\x1B[2J');
  assert.equal(printable('a\nb'), 'a\\x0Ab');
});
