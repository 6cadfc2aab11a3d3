import { childPath, type Problem } from './problems.ts';

/**
 * A small strict JSON parser (RFC 8259) that, unlike JSON.parse, says where a syntax error is (line and
 * column), reports duplicate object keys (JSON.parse silently keeps the last one, which would drop a whole
 * condition block without a word), caps nesting depth, and remembers where every value starts so that
 * validation problems can be located in the text. Objects are built without a prototype.
 */
export type JsonParseResult =
  | { ok: true; value: unknown; duplicates: Problem[]; locate: (path: string) => Location | undefined }
  | { ok: false; error: Problem };

export type Location = { line: number; column: number };

class JsonSyntaxError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(message);
    this.offset = offset;
  }
}

const ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

export function parseJson(text: string, maxDepth: number): JsonParseResult {
  const parser = new JsonParser(text, maxDepth);
  try {
    const value = parser.document();
    return { ok: true, value, duplicates: parser.duplicates, locate: (path) => parser.locate(path) };
  } catch (error) {
    if (!(error instanceof JsonSyntaxError)) throw error;
    const { line, column } = parser.position(error.offset);
    return {
      ok: false,
      error: {
        path: '$',
        message: `JSON syntax error at line ${line}, column ${column}: ${error.message}`,
        line,
        column,
      },
    };
  }
}

class JsonParser {
  readonly duplicates: Problem[] = [];
  #text: string;
  #pos = 0;
  #maxDepth: number;
  #starts = new Map<string, number>();
  #lineStarts: number[] | undefined;

  constructor(text: string, maxDepth: number) {
    this.#text = text;
    this.#maxDepth = maxDepth;
  }

  document(): unknown {
    if (this.#text.charCodeAt(0) === 0xfeff) this.#pos = 1;
    const value = this.#value('$', 0);
    this.#skipSpace();
    if (this.#pos < this.#text.length) this.#fail(`unexpected ${this.#here()} after the end of the document`);
    return value;
  }

  locate(path: string): Location | undefined {
    const offset = this.#starts.get(path);
    return offset === undefined ? undefined : this.position(offset);
  }

  position(offset: number): Location {
    if (!this.#lineStarts) {
      const starts = [0];
      for (let i = 0; i < this.#text.length; i++) if (this.#text.charCodeAt(i) === 10) starts.push(i + 1);
      this.#lineStarts = starts;
    }
    const starts = this.#lineStarts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - (starts[lo] ?? 0) + 1 };
  }

  #fail(message: string, offset = this.#pos): never {
    throw new JsonSyntaxError(message, offset);
  }

  #here(): string {
    if (this.#pos >= this.#text.length) return 'end of input';
    return JSON.stringify(this.#text.charAt(this.#pos));
  }

  #skipSpace(): void {
    const text = this.#text;
    while (this.#pos < text.length) {
      const c = text.charCodeAt(this.#pos);
      if (c !== 32 && c !== 9 && c !== 10 && c !== 13) return;
      this.#pos++;
    }
  }

  #value(path: string, depth: number): unknown {
    this.#skipSpace();
    if (!this.#starts.has(path)) this.#starts.set(path, this.#pos);
    const c = this.#text.charAt(this.#pos);
    if (c === '{') return this.#object(path, depth + 1);
    if (c === '[') return this.#array(path, depth + 1);
    if (c === '"') return this.#string();
    if (c === 't') return this.#literal('true', true);
    if (c === 'f') return this.#literal('false', false);
    if (c === 'n') return this.#literal('null', null);
    if (c === '-' || (c >= '0' && c <= '9')) return this.#number();
    return this.#fail(`expected a value but found ${this.#here()}`);
  }

  #object(path: string, depth: number): Record<string, unknown> {
    if (depth > this.#maxDepth) this.#fail(`nesting is deeper than ${this.#maxDepth} levels`);
    this.#pos++;
    const result: Record<string, unknown> = Object.create(null);
    this.#skipSpace();
    if (this.#text.charAt(this.#pos) === '}') {
      this.#pos++;
      return result;
    }
    for (;;) {
      this.#skipSpace();
      if (this.#text.charAt(this.#pos) !== '"') {
        const trailing = this.#text.charAt(this.#pos) === '}';
        this.#fail(
          trailing
            ? 'a comma cannot come before "}"'
            : `expected a key in double quotes but found ${this.#here()}`,
        );
      }
      const keyOffset = this.#pos;
      const key = this.#string();
      const memberPath = childPath(path, key);
      if (Object.hasOwn(result, key)) {
        const { line, column } = this.position(keyOffset);
        this.duplicates.push({
          path: memberPath,
          message: `duplicate key ${JSON.stringify(key)}: a JSON reader keeps only one of them, so part of the policy would be silently ignored; merge the two into one`,
          line,
          column,
        });
      } else {
        this.#starts.set(memberPath, keyOffset);
      }
      this.#skipSpace();
      if (this.#text.charAt(this.#pos) !== ':')
        this.#fail(`expected ":" after the key but found ${this.#here()}`);
      this.#pos++;
      result[key] = this.#value(memberPath, depth);
      this.#skipSpace();
      const next = this.#text.charAt(this.#pos);
      this.#pos++;
      if (next === '}') return result;
      if (next !== ',')
        this.#fail(
          `expected "," or "}" after a value but found ${this.#hereAt(this.#pos - 1)}`,
          this.#pos - 1,
        );
    }
  }

  #array(path: string, depth: number): unknown[] {
    if (depth > this.#maxDepth) this.#fail(`nesting is deeper than ${this.#maxDepth} levels`);
    this.#pos++;
    const result: unknown[] = [];
    this.#skipSpace();
    if (this.#text.charAt(this.#pos) === ']') {
      this.#pos++;
      return result;
    }
    for (;;) {
      this.#skipSpace();
      if (this.#text.charAt(this.#pos) === ']') this.#fail('a comma cannot come before "]"');
      result.push(this.#value(childPath(path, result.length), depth));
      this.#skipSpace();
      const next = this.#text.charAt(this.#pos);
      this.#pos++;
      if (next === ']') return result;
      if (next !== ',')
        this.#fail(
          `expected "," or "]" after a value but found ${this.#hereAt(this.#pos - 1)}`,
          this.#pos - 1,
        );
    }
  }

  #hereAt(offset: number): string {
    return offset >= this.#text.length ? 'end of input' : JSON.stringify(this.#text.charAt(offset));
  }

  #string(): string {
    const text = this.#text;
    const start = this.#pos;
    this.#pos++;
    let out = '';
    let chunk = this.#pos;
    for (;;) {
      if (this.#pos >= text.length) this.#fail('this string is never closed with a double quote', start);
      const c = text.charCodeAt(this.#pos);
      if (c === 34) {
        out += text.slice(chunk, this.#pos);
        this.#pos++;
        return out;
      }
      if (c < 0x20)
        this.#fail('a string cannot contain a raw control character or line break; write \\n or \\t');
      if (c !== 92) {
        this.#pos++;
        continue;
      }
      out += text.slice(chunk, this.#pos);
      const escaped = text.charAt(this.#pos + 1);
      if (escaped === 'u') {
        const hex = text.slice(this.#pos + 2, this.#pos + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.#fail('"\\u" must be followed by four hexadecimal digits');
        out += String.fromCharCode(Number.parseInt(hex, 16));
        this.#pos += 6;
      } else {
        const decoded = ESCAPES[escaped];
        if (decoded === undefined) this.#fail(`unknown escape "\\${escaped}" in a string`);
        out += decoded;
        this.#pos += 2;
      }
      chunk = this.#pos;
    }
  }

  #number(): number {
    NUMBER.lastIndex = this.#pos;
    const match = NUMBER.exec(this.#text);
    if (!match || match[0] === '-') this.#fail(`malformed number starting with ${this.#here()}`);
    this.#pos += match[0].length;
    return Number(match[0]);
  }

  #literal<T>(word: string, value: T): T {
    if (this.#text.startsWith(word, this.#pos)) {
      this.#pos += word.length;
      return value;
    }
    return this.#fail(`expected a value but found ${this.#here()} (strings need double quotes)`);
  }
}
