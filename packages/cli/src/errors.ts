/** Exit codes scripts can rely on (also in the README). */
export const ExitCodes = {
  OK: 0,
  FAILURE: 1,
  INVALID: 2,
  UNAUTHENTICATED: 3,
  FORBIDDEN: 4,
  NOT_FOUND: 5,
  CONFLICT: 6,
  UNAVAILABLE: 7,
  /** Too many attempts (failed sign-ins, codes, registrations): try again later. */
  RATE_LIMITED: 8,
  SESSION_FAILED: 255,
} as const;

export class CliError extends Error {
  readonly exitCode: number;
  /** The server's error code (`UNAUTHENTICATED`, `RATE_LIMITED`, …) when the error came from the server. */
  readonly code: string | undefined;
  /** The server's `details`, if any (e.g. `attemptsLeft` after a wrong code). */
  readonly details: unknown;
  constructor(message: string, exitCode: number = ExitCodes.FAILURE, code?: string, details?: unknown) {
    super(message);
    this.exitCode = exitCode;
    this.code = code;
    this.details = details;
  }
}

/** Maps a server error code to an exit code. */
export function exitCodeFor(code: unknown): number {
  return typeof code === 'string' && Object.hasOwn(ExitCodes, code) && code !== 'OK'
    ? ExitCodes[code as keyof typeof ExitCodes]
    : ExitCodes.FAILURE;
}
