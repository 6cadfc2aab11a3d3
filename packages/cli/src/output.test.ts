import assert from 'node:assert/strict';
import { test } from 'node:test';
import { printable, printObject, show, terminalSafeJson } from './output.ts';

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

test('a recording reaches the terminal with C1 controls and bidi overrides as JSON escapes, meaning unchanged', async () => {
  // What a session printed: CSI (U+009B) erase-line, OSC (U+009D) with BEL, a right-to-left override, DEL.
  const events = [
    [0.5, 'o', 'x\u009b1A\u009b2K\u009d0;pwned\u0007 gpj\u202e.exe\u007f'],
    [0.6, 'i', 'é例'],
  ];
  const text = `{"version":2,"width":80,"height":24}\n${events.map((e) => JSON.stringify(e)).join('\n')}\n`;
  const bytes = Buffer.from(text);
  // Fed one byte at a time: every multibyte character is split between chunks.
  const transform = terminalSafeJson();
  const out: string[] = [];
  transform.on('data', (d: Buffer | string) => out.push(String(d)));
  for (let i = 0; i < bytes.length; i++) transform.write(bytes.subarray(i, i + 1));
  transform.end();
  await new Promise((r) => transform.once('end', r));
  const safe = out.join('');
  assert.doesNotMatch(safe, /(?!\n)[\p{Cc}\u202a-\u202e\u2066-\u2069]/u);
  assert.match(safe, /\\u009b1A\\u009b2K\\u009d0;pwned\\u0007 gpj\\u202e\.exe\\u007f/);
  const lines = safe.trimEnd().split('\n');
  assert.equal(lines.length, 3);
  assert.deepEqual(
    lines.slice(1).map((l) => JSON.parse(l)),
    events,
  );
  assert.ok(safe.includes('é例'));
});

test('an object shown as text gives its times (…At) as ISO 8601, as tables do; JSON keeps the milliseconds', (t) => {
  const written: string[] = [];
  t.mock.method(process.stdout, 'write', (chunk: string) => {
    written.push(chunk);
    return true;
  });
  const instance = { id: 'mi-0123456789abcdef0', lastSeenAt: 1795362440453, count: 3 };
  printObject(instance, 'text');
  printObject(instance, 'json');
  t.mock.restoreAll();
  assert.deepEqual(written.slice(0, 3), [
    'id: mi-0123456789abcdef0\n',
    'lastSeenAt: 2026-11-22T15:47:20Z\n',
    'count: 3\n',
  ]);
  assert.match(written[3] ?? '', /"lastSeenAt": 1795362440453/);
});
