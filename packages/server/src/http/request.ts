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
 * Refuses a request with a NUL character (U+0000) anywhere in its path values, query or body, keys included:
 * PostgreSQL cannot store one in text, so it would fail as an internal error deep in a service (before a sign-in's
 * throttle, for one), where SQLite would take it. Walked without recursion: a body may nest deeply.
 */
export function refuseNul(request: FastifyRequest): void {
  const stack: [string, unknown][] = [
    ['path', request.params],
    ['query', request.query],
    ['body', request.body],
  ];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const [where, value] = item;
    if (typeof value === 'string') {
      if (value.includes('\0')) throw nulError(where);
    } else if (typeof value === 'object' && value !== null) {
      for (const [key, inner] of Object.entries(value)) {
        if (key.includes('\0')) throw nulError(`a key in ${where}`);
        stack.push([Array.isArray(value) ? `${where}[${key}]` : `${where}.${key}`, inner]);
      }
    }
  }
}

function nulError(where: string): SesameError {
  return new SesameError(
    'INVALID',
    `${where.slice(0, 200)} contains a NUL character (\\u0000), which no value in Sesame may contain`,
  );
}
