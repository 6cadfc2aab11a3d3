import {
  type AsciicastEvent,
  type AsciicastHeader,
  isEventCode,
  isPositiveInteger,
  RESIZE_DATA,
} from './asciicast-format.ts';

/**
 * Parses an asciicast v2 recording strictly. Throws an Error whose message starts with `line N:` and says
 * what is wrong with that line. A single trailing newline is allowed; any other blank line is an error.
 */
export function parseAsciicast(text: string): { header: AsciicastHeader; events: AsciicastEvent[] } {
  const lines = text.split('\n');
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  const header = parseHeader(lines[0] ?? '');
  const events: AsciicastEvent[] = [];
  let previous = 0;
  for (let i = 1; i < lines.length; i++) {
    const event = parseEvent(lines[i]!, i + 1, previous);
    previous = event[0];
    events.push(event);
  }
  return { header, events };
}

function fail(line: number, what: string): never {
  throw new Error(`line ${line}: ${what}`);
}

function parseJson(text: string, line: number): unknown {
  if (text.trim() === '') fail(line, line === 1 ? 'missing header: the file is empty' : 'blank line');
  try {
    return JSON.parse(text);
  } catch (error) {
    return fail(line, `not JSON (${(error as Error).message})`);
  }
}

function parseHeader(text: string): AsciicastHeader {
  const value = parseJson(text, 1);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(1, 'header is not a JSON object');
  }
  const header = value as Record<string, unknown>;
  if (header.version !== 2) fail(1, `header version is ${JSON.stringify(header.version)}, expected 2`);
  for (const key of ['width', 'height'] as const) {
    if (!(key in header)) fail(1, `header is missing "${key}"`);
    if (!isPositiveInteger(header[key])) fail(1, `header "${key}" is not a positive integer`);
  }
  if (
    'timestamp' in header &&
    !(Number.isSafeInteger(header.timestamp) && (header.timestamp as number) >= 0)
  ) {
    fail(1, 'header "timestamp" is not a non-negative integer (unix seconds)');
  }
  return header as AsciicastHeader;
}

function parseEvent(text: string, line: number, previous: number): AsciicastEvent {
  const value = parseJson(text, line);
  if (!Array.isArray(value) || value.length !== 3)
    fail(line, 'event is not a 3-element array [time, code, data]');
  const [time, code, data] = value as unknown[];
  if (typeof time !== 'number' || !Number.isFinite(time) || time < 0) {
    fail(line, `event time ${JSON.stringify(time)} is not a non-negative number`);
  }
  if (time < previous) fail(line, `event time ${time} is before the previous event's ${previous}`);
  if (!isEventCode(code))
    fail(line, `unknown event code ${JSON.stringify(code)} (expected "o", "i", "r" or "m")`);
  if (typeof data !== 'string') fail(line, 'event data is not a string');
  if (code === 'r' && !RESIZE_DATA.test(data)) {
    fail(line, `resize data ${JSON.stringify(data)} is not "COLSxROWS"`);
  }
  return [time, code, data];
}
