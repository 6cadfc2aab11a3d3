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
