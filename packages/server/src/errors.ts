/** The one error type of Sesame: a fixed code table, mapped to HTTP status in one place. */
export const ErrorCodes = {
  INVALID: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class SesameError extends Error {
  readonly code: ErrorCode;
  /** Structured detail a client can act on (e.g. every problem of a rejected policy, with its JSON path). */
  readonly details: unknown;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: unknown }) {
    super(message, options);
    this.name = 'SesameError';
    this.code = code;
    this.details = options?.details;
  }
}

export function httpStatus(code: ErrorCode): number {
  return ErrorCodes[code];
}
