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
  for (const [where, value] of parts) {
    const found = findNul(value);
    if (found) throw nulError(`${found.key ? 'a key in ' : ''}${where}${found.path}`);
  }
}

/** A container being walked: the next of its values to look at is `next` (of `keys`, for an object). */
type Frame = { container: Record<string, unknown> | unknown[]; keys: string[] | undefined; next: number };

/** Path segments spelled out at most, before `…`: the message is cut short anyway. */
const MAX_SEGMENTS = 30;

/**
 * The path to a NUL in a string or a key of `value` (`.tags[0].Value`), if it holds one: one pass, each value looked at
 * once, with one frame per container on the way down and none per value (a 1 MiB body may be half a million values,
 * or nest half a million deep), and without recursion.
 */
function findNul(value: unknown): { path: string; key: boolean } | undefined {
  if (typeof value === 'string') return value.includes('\0') ? { path: '', key: false } : undefined;
  const frames: Frame[] = [];
  const spell = () =>
    frames
      .slice(0, MAX_SEGMENTS)
      .map((f) => (f.keys ? `.${f.keys[f.next - 1]}` : `[${f.next - 1}]`))
      .join('') + (frames.length > MAX_SEGMENTS ? '…' : '');
  /** Walks into a container; false (and stays out) when one of its keys holds a NUL. */
  const enter = (container: object): boolean => {
    if (Array.isArray(container)) {
      frames.push({ container, keys: undefined, next: 0 });
      return true;
    }
    const keys = Object.keys(container);
    if (keys.some((key) => key.includes('\0'))) return false;
    frames.push({ container: container as Record<string, unknown>, keys, next: 0 });
    return true;
  };
  if (typeof value !== 'object' || value === null) return undefined;
  if (!enter(value)) return { path: '', key: true };
  while (frames.length > 0) {
    const frame = frames[frames.length - 1] as Frame;
    const { container, keys } = frame;
    if (frame.next >= (keys ?? (container as unknown[])).length) {
      frames.pop();
      continue;
    }
    const index = frame.next++;
    const child = keys
      ? (container as Record<string, unknown>)[keys[index] as string]
      : (container as unknown[])[index];
    if (typeof child === 'string') {
      if (child.includes('\0')) return { path: spell(), key: false };
    } else if (typeof child === 'object' && child !== null && !enter(child)) {
      return { path: spell(), key: true };
    }
  }
  return undefined;
}

function nulError(where: string): SesameError {
  return new SesameError(
    'INVALID',
    `${where.slice(0, 200)} contains a NUL character (\\u0000), which no value in Sesame may contain`,
  );
}
