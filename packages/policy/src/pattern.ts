import type { RequestContext } from './request-context.ts';
import type { TemplatePart } from './template.ts';

/** Match outcomes. UNRESOLVED: the pattern names a policy variable the request context lacks. */
export const NO_MATCH = 0;
export const MATCH = 1;
export const UNRESOLVED = 2;
export type MatchResult = typeof NO_MATCH | typeof MATCH | typeof UNRESOLVED;

/** An atom of a segment: literal text, `?` (any one character) or a variable (index into #resolved). */
type Atom = string | number;
const ONE = -1;

const KINDS = { all: 0, exact: 1, prefix: 2, suffix: 3, variable: 4, general: 5 } as const;
type Kind = (typeof KINDS)[keyof typeof KINDS];

/**
 * A compiled wildcard pattern with policy variables, matched without RegExps and without allocating.
 * The pattern is split at `*` into segments of fixed length (once variables are resolved); the first and
 * last segments are anchored and the middle ones are found leftmost-first, which is exact for globs.
 * Variable values are always literal text: a `*` in a tag value is not a wildcard.
 * With `ignoreCase` the literals are lower-cased here and the caller passes lower-cased input.
 */
export class Pattern {
  readonly source: string;
  #kind: Kind;
  #literal = '';
  #segments: Atom[][];
  #anchoredStart: boolean;
  #anchoredEnd: boolean;
  #variables: { key: string; fallback: string | undefined }[];
  #resolved: string[];
  #ignoreCase: boolean;
  #memoInput: string | undefined;
  #memoContext: RequestContext | undefined;
  #memoResult: MatchResult = NO_MATCH;

  constructor(source: string, parts: readonly TemplatePart[], ignoreCase = false) {
    this.source = source;
    this.#ignoreCase = ignoreCase;
    this.#variables = [];
    this.#segments = [[]];
    for (const part of parts) {
      const segment = this.#segments.at(-1) as Atom[];
      if (part.kind === 'star') this.#segments.push([]);
      else if (part.kind === 'one') segment.push(ONE);
      else if (part.kind === 'text') {
        const text = ignoreCase ? part.text.toLowerCase() : part.text;
        const last = segment.at(-1);
        if (typeof last === 'string') segment[segment.length - 1] = last + text;
        else segment.push(text);
      } else {
        segment.push(this.#variables.length);
        this.#variables.push({ key: part.key, fallback: part.fallback });
      }
    }
    this.#resolved = this.#variables.map(() => '');
    this.#anchoredStart = parts[0]?.kind !== 'star';
    this.#anchoredEnd = parts.at(-1)?.kind !== 'star';
    this.#kind = this.#classify();
  }

  /** The policy variables the pattern names. */
  get variables(): readonly { readonly key: string; readonly fallback: string | undefined }[] {
    return this.#variables;
  }

  /** True when the pattern is `*`: it matches everything without consulting the request. */
  get matchesEverything(): boolean {
    return this.#kind === KINDS.all;
  }

  #classify(): Kind {
    const segments = this.#segments;
    const only = segments.length === 1 ? segments[0] : undefined;
    if (segments.every((s) => s.length === 0)) return segments.length > 1 ? KINDS.all : KINDS.exact;
    if (only && only.length === 1 && typeof only[0] === 'number' && only[0] !== ONE) return KINDS.variable;
    const literalOnly = (s: Atom[] | undefined) =>
      s !== undefined && s.length === 1 && typeof s[0] === 'string';
    if (only && literalOnly(only)) {
      this.#literal = only[0] as string;
      return KINDS.exact;
    }
    if (segments.length === 2 && literalOnly(segments[0]) && segments[1]?.length === 0) {
      this.#literal = segments[0]?.[0] as string;
      return KINDS.prefix;
    }
    if (segments.length === 2 && segments[0]?.length === 0 && literalOnly(segments[1])) {
      this.#literal = segments[1]?.[0] as string;
      return KINDS.suffix;
    }
    return KINDS.general;
  }

  /** Matches `input.slice(start, end)` (the whole input by default) against the pattern. */
  match(input: string, context: RequestContext | undefined, start = 0, end = input.length): MatchResult {
    switch (this.#kind) {
      case KINDS.all:
        return MATCH;
      case KINDS.exact:
        return end - start === this.#literal.length && input.startsWith(this.#literal, start)
          ? MATCH
          : NO_MATCH;
      case KINDS.prefix:
        return end - start >= this.#literal.length && input.startsWith(this.#literal, start)
          ? MATCH
          : NO_MATCH;
      case KINDS.suffix: {
        const at = end - this.#literal.length;
        return at >= start && input.startsWith(this.#literal, at) ? MATCH : NO_MATCH;
      }
      case KINDS.variable: {
        if (!this.#resolve(context)) return UNRESOLVED;
        const value = this.#resolved[0] as string;
        return end - start === value.length && input.startsWith(value, start) ? MATCH : NO_MATCH;
      }
      default: {
        // One-entry memo: statements share interned patterns, so within one decision the same pattern
        // meets the same resource (and context) again and again. Contexts are immutable.
        const whole = start === 0 && end === input.length;
        const memoContext = this.#variables.length > 0 ? context : undefined;
        if (whole && input === this.#memoInput && memoContext === this.#memoContext) return this.#memoResult;
        let result: MatchResult;
        if (this.#variables.length > 0 && !this.#resolve(context)) result = UNRESOLVED;
        else result = this.#general(input, start, end) ? MATCH : NO_MATCH;
        if (whole) {
          this.#memoInput = input;
          this.#memoContext = memoContext;
          this.#memoResult = result;
        }
        return result;
      }
    }
  }

  #resolve(context: RequestContext | undefined): boolean {
    const variables = this.#variables;
    for (let i = 0; i < variables.length; i++) {
      const variable = variables[i] as { key: string; fallback: string | undefined };
      const value = context?.get(variable.key);
      const text = typeof value === 'string' ? value : variable.fallback;
      if (text === undefined) return false;
      this.#resolved[i] = this.#ignoreCase ? text.toLowerCase() : text;
    }
    return true;
  }

  #general(input: string, start: number, end: number): boolean {
    const segments = this.#segments;
    const last = segments.length - 1;
    if (last === 0)
      return (
        this.#length(segments[0] as Atom[]) === end - start &&
        this.#at(segments[0] as Atom[], input, start, end)
      );
    let pos = start;
    let limit = end;
    if (this.#anchoredStart) {
      const first = segments[0] as Atom[];
      const length = this.#length(first);
      if (length > limit - pos || !this.#at(first, input, pos, limit)) return false;
      pos += length;
    }
    if (this.#anchoredEnd) {
      const tail = segments[last] as Atom[];
      const length = this.#length(tail);
      if (length > limit - pos || !this.#at(tail, input, limit - length, limit)) return false;
      limit -= length;
    }
    for (let i = 1; i < last; i++) {
      const segment = segments[i] as Atom[];
      const found = this.#find(segment, input, pos, limit);
      if (found < 0) return false;
      pos = found;
    }
    return true;
  }

  /** Leftmost occurrence of a segment in [pos, limit); returns the position after it, or -1. */
  #find(segment: Atom[], input: string, pos: number, limit: number): number {
    const length = this.#length(segment);
    const head = segment[0];
    for (let p = pos; p + length <= limit; p++) {
      if (typeof head === 'string') {
        const next = input.indexOf(head, p);
        if (next < 0 || next + length > limit) return -1;
        p = next;
      }
      if (this.#at(segment, input, p, limit)) return p + length;
    }
    return -1;
  }

  #length(segment: Atom[]): number {
    let length = 0;
    for (const atom of segment) {
      length +=
        typeof atom === 'string' ? atom.length : atom === ONE ? 1 : (this.#resolved[atom] as string).length;
    }
    return length;
  }

  /** Does the fixed-length segment match at `p`? (The caller checked it fits before `limit`.) */
  #at(segment: Atom[], input: string, p: number, limit: number): boolean {
    let at = p;
    for (const atom of segment) {
      if (atom === ONE) {
        if (at >= limit) return false;
        at++;
        continue;
      }
      const text = typeof atom === 'string' ? atom : (this.#resolved[atom] as string);
      if (!input.startsWith(text, at)) return false;
      at += text.length;
    }
    return at <= limit;
  }
}
