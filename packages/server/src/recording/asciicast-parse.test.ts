import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAsciicast } from './asciicast-parse.ts';

const HEADER = '{"version":2,"width":80,"height":24,"timestamp":1700000000}';

describe('parseAsciicast', () => {
  it('parses a header and events, with or without a final newline', () => {
    const text = `${HEADER}\n[0.5,"o","hi"]\n[0.5,"i","x"]\n[1.25,"r","100x30"]\n[2,"m","end"]`;
    for (const input of [text, `${text}\n`]) {
      const { header, events } = parseAsciicast(input);
      assert.deepEqual(header, { version: 2, width: 80, height: 24, timestamp: 1700000000 });
      assert.deepEqual(events, [
        [0.5, 'o', 'hi'],
        [0.5, 'i', 'x'],
        [1.25, 'r', '100x30'],
        [2, 'm', 'end'],
      ]);
    }
  });

  it('keeps extra header fields and accepts a header alone', () => {
    const { header, events } = parseAsciicast(
      '{"version":2,"width":1,"height":2,"sesame":{"user":"alice"}}\n',
    );
    assert.deepEqual(header.sesame, { user: 'alice' });
    assert.deepEqual(events, []);
  });

  const cases: { name: string; text: string; error: RegExp }[] = [
    { name: 'empty file', text: '', error: /^line 1: missing header/ },
    { name: 'header not JSON', text: '{"version":2,', error: /^line 1: not JSON/ },
    { name: 'header an array', text: '[2,80,24]', error: /^line 1: header is not a JSON object/ },
    { name: 'header null', text: 'null', error: /^line 1: header is not a JSON object/ },
    {
      name: 'version 1',
      text: '{"version":1,"width":80,"height":24}',
      error: /^line 1: header version is 1/,
    },
    {
      name: 'version missing',
      text: '{"width":80,"height":24}',
      error: /^line 1: header version is undefined/,
    },
    { name: 'width missing', text: '{"version":2,"height":24}', error: /^line 1: header is missing "width"/ },
    {
      name: 'height missing',
      text: '{"version":2,"width":80}',
      error: /^line 1: header is missing "height"/,
    },
    {
      name: 'width not an integer',
      text: '{"version":2,"width":"80","height":24}',
      error: /^line 1: header "width" is not a positive integer/,
    },
    {
      name: 'height zero',
      text: '{"version":2,"width":80,"height":0}',
      error: /^line 1: header "height" is not a positive integer/,
    },
    {
      name: 'timestamp not an integer',
      text: '{"version":2,"width":80,"height":24,"timestamp":"now"}',
      error: /^line 1: header "timestamp"/,
    },
    { name: 'event not JSON', text: `${HEADER}\n[0.1,"o","a"]\n[0.2,"o",`, error: /^line 3: not JSON/ },
    { name: 'blank line', text: `${HEADER}\n\n[0.1,"o","a"]`, error: /^line 2: blank line/ },
    { name: 'event an object', text: `${HEADER}\n{"t":1}`, error: /^line 2: event is not a 3-element array/ },
    {
      name: 'event too short',
      text: `${HEADER}\n[0.1,"o"]`,
      error: /^line 2: event is not a 3-element array/,
    },
    {
      name: 'event too long',
      text: `${HEADER}\n[0.1,"o","a",1]`,
      error: /^line 2: event is not a 3-element/,
    },
    { name: 'time a string', text: `${HEADER}\n["0.1","o","a"]`, error: /^line 2: event time "0.1" is not/ },
    { name: 'time negative', text: `${HEADER}\n[-1,"o","a"]`, error: /^line 2: event time -1 is not/ },
    {
      name: 'time decreasing',
      text: `${HEADER}\n[1,"o","a"]\n[2,"o","b"]\n[1.5,"o","c"]`,
      error: /^line 4: event time 1.5 is before the previous event's 2/,
    },
    { name: 'unknown code', text: `${HEADER}\n[0.1,"x","a"]`, error: /^line 2: unknown event code "x"/ },
    { name: 'code not a string', text: `${HEADER}\n[0.1,1,"a"]`, error: /^line 2: unknown event code 1/ },
    { name: 'data a number', text: `${HEADER}\n[0.1,"o",5]`, error: /^line 2: event data is not a string/ },
    { name: 'data null', text: `${HEADER}\n[0.1,"m",null]`, error: /^line 2: event data is not a string/ },
    {
      name: 'resize words',
      text: `${HEADER}\n[0.1,"r","wide"]`,
      error: /^line 2: resize data "wide" is not/,
    },
    { name: 'resize zero', text: `${HEADER}\n[0.1,"r","0x24"]`, error: /^line 2: resize data "0x24"/ },
    { name: 'resize one number', text: `${HEADER}\n[0.1,"r","80"]`, error: /^line 2: resize data "80"/ },
  ];
  for (const { name, text, error } of cases) {
    it(`rejects: ${name}`, () => {
      assert.throws(() => parseAsciicast(text), { message: error });
    });
  }
});
