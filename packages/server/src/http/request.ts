import type { FastifyRequest } from 'fastify';
import type { Principal } from '../authorize.ts';
import { SesameError } from '../errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer ([A-Za-z0-9_\-.~]{1,200})$/.exec(header.trim());
  return match?.[1];
}

export function body(request: FastifyRequest): Record<string, unknown> {
  const value = request.body;
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value))
    throw new SesameError('INVALID', 'the request body must be a JSON object');
  return value as Record<string, unknown>;
}

export function param(request: FastifyRequest, name: string): string {
  return String((request.params as Record<string, string>)[name] ?? '');
}

/** The signed-in principal (routes with the `authed` hook); never absent there. */
export function me(request: FastifyRequest): Principal {
  if (!request.principal) throw new SesameError('UNAUTHENTICATED', 'sign in first: run `sesame login`');
  return request.principal;
}

/**
 * Requests whose JSON body had no `\u0000` escape in its text, the only way JSON can carry a NUL (see
 * parseJsonNoting): their parsed body need not be walked.
 */
const nulFreeJson = new WeakSet<FastifyRequest>();

/**
 * Fastify's own JSON parser (which refuses __proto__ and constructor.prototype keys), noting first whether the text
 * could hold a NUL: a look through the text costs far less than walking what it parses to (a 1 MiB body of small
 * array items is half a million values).
 */
export function parseJsonNoting(
  parse: (
    request: FastifyRequest,
    body: string,
    done: (error: Error | null, value?: unknown) => void,
  ) => void,
) {
  return (request: FastifyRequest, body: string, done: (error: Error | null, value?: unknown) => void) => {
    if (!body.includes('\\u0000')) nulFreeJson.add(request);
    parse(request, body, done);
  };
}

/**
 * Refuses a request with a NUL character (U+0000) anywhere in its path values, query or body, keys included:
 * PostgreSQL cannot store one in text, so it would fail as an internal error deep in a service (before a sign-in's
 * throttle, for one), where SQLite would take it. Runs before authentication, so it stays cheap: a JSON body whose
 * text has no `\u0000` is not walked, and where a value is is worked out only once one is found.
 */
export function refuseNul(request: FastifyRequest): void {
  const parts: [string, unknown][] = [
    ['path', request.params],
    ['query', request.query],
    ['body', nulFreeJson.has(request) ? undefined : request.body],
  ];
  for (const [where, value] of parts) if (holdsNul(value)) throw nulError(whereNul(where, value));
}

/** Whether `value` has a NUL in a string or a key, at any depth (walked without recursion: a body may nest deeply). */
function holdsNul(value: unknown): boolean {
  const stack = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item === 'string') {
      if (item.includes('\0')) return true;
    } else if (Array.isArray(item)) {
      for (const inner of item) stack.push(inner);
    } else if (typeof item === 'object' && item !== null) {
      for (const key in item) {
        if (!Object.hasOwn(item, key)) continue;
        if (key.includes('\0')) return true;
        stack.push((item as Record<string, unknown>)[key]);
      }
    }
  }
  return false;
}

/** The path to the first NUL in `value` (which holds one), as `body.tags[0].Value` or `a key in body.tags`. */
function whereNul(where: string, value: unknown): string {
  if (typeof value !== 'object' || value === null) return where;
  for (const [key, inner] of Object.entries(value)) {
    if (key.includes('\0')) return `a key in ${where}`;
    if (holdsNul(inner))
      return whereNul(Array.isArray(value) ? `${where}[${key}]` : `${where}.${key}`, inner);
  }
  return where;
}

function nulError(where: string): SesameError {
  return new SesameError(
    'INVALID',
    `${where.slice(0, 200)} contains a NUL character (\\u0000), which no value in Sesame may contain`,
  );
}
