// The one error type the store throws, and the translation of driver errors (better-sqlite3, pg, network)
// into it. Messages name what went wrong in words a person can act on; the driver error rides along as `cause`.

/** DAMAGED: a stored value is not in the shape the server writes (edited by hand, or corrupted). */
export const STORE_ERROR_CODES = ['CONFLICT', 'UNAVAILABLE', 'DAMAGED', 'INTERNAL'] as const;
export type StoreErrorCode = (typeof STORE_ERROR_CODES)[number];

export class SesameStoreError extends Error {
  override readonly name = 'SesameStoreError';
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

type DriverError = { code?: unknown; message?: unknown; errors?: unknown };

// PostgreSQL SQLSTATE classes and Node socket errors that mean "the database is not there right now" (57014: a
// statement cancelled, by the statement time limit or by an operator).
const UNAVAILABLE_SQLSTATE_PREFIXES = ['08', '53', '57P', '57014'] as const;
const UNAVAILABLE_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);
const UNAVAILABLE_SQLITE_PREFIXES = [
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_FULL',
  'SQLITE_IOERR',
  'SQLITE_CANTOPEN',
  'SQLITE_READONLY',
] as const;

// node-postgres reports a lost or timed-out connection, and a statement it gave up waiting for, with a message only.
const PG_CONNECTION_MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Query read timeout)/;

const UNIQUE_VIOLATIONS = new Set(['23505', 'SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_PRIMARYKEY']);
const FOREIGN_KEY_VIOLATIONS = new Set(['23503', 'SQLITE_CONSTRAINT_FOREIGNKEY']);

function codeOf(error: unknown): string {
  const code = (error as DriverError | null)?.code;
  return typeof code === 'string' ? code : '';
}

export function isUniqueViolation(error: unknown): boolean {
  return UNIQUE_VIOLATIONS.has(codeOf(error));
}

export function isForeignKeyViolation(error: unknown): boolean {
  return FOREIGN_KEY_VIOLATIONS.has(codeOf(error));
}

export function isUnavailable(error: unknown): boolean {
  const code = codeOf(error);
  if (UNAVAILABLE_NODE_CODES.has(code)) return true;
  if (code.startsWith('SQLITE_'))
    return UNAVAILABLE_SQLITE_PREFIXES.some((prefix) => code.startsWith(prefix));
  if (/^[0-9A-Z]{5}$/.test(code))
    return UNAVAILABLE_SQLSTATE_PREFIXES.some((prefix) => code.startsWith(prefix));
  const { errors: nested, message } = (error ?? {}) as DriverError;
  if (typeof message === 'string' && PG_CONNECTION_MESSAGES.test(message)) return true;
  return Array.isArray(nested) && nested.length > 0 && nested.every(isUnavailable);
}

/** A one-line reason for a driver error; Node's AggregateError (e.g. `localhost` → ::1 and 127.0.0.1) has no message. */
export function describeError(error: unknown): string {
  const { message, errors, code } = (error ?? {}) as DriverError;
  if (typeof message === 'string' && message.length > 0) return message;
  if (Array.isArray(errors) && errors.length > 0) return [...new Set(errors.map(describeError))].join('; ');
  if (typeof code === 'string') return code;
  return String(error);
}

/** Translates anything a query threw into a SesameStoreError; `operation` names the store method. */
export function toStoreError(error: unknown, operation: string): SesameStoreError {
  if (error instanceof SesameStoreError) return error;
  const code = codeOf(error);
  if (UNIQUE_VIOLATIONS.has(code)) {
    return new SesameStoreError('CONFLICT', `${operation}: a record with the same key already exists`, {
      cause: error,
    });
  }
  if (FOREIGN_KEY_VIOLATIONS.has(code)) {
    return new SesameStoreError(
      'CONFLICT',
      `${operation}: the record refers to something that does not exist (or it is still referred to)`,
      { cause: error },
    );
  }
  if (code === '57014' || (error as DriverError | null)?.message === 'Query read timeout') {
    return new SesameStoreError(
      'UNAVAILABLE',
      `${operation}: the database did not answer within its time limit (${describeError(error)}); retry, and if it keeps happening look for a lock held elsewhere, an overloaded database or a network that drops packets`,
      { cause: error },
    );
  }
  if (isUnavailable(error)) {
    return new SesameStoreError(
      'UNAVAILABLE',
      `${operation}: the database is unavailable (${describeError(error)}); retry, and check that the database server is running and reachable`,
      { cause: error },
    );
  }
  return new SesameStoreError('INTERNAL', `${operation} failed: ${describeError(error)}`, { cause: error });
}

/** Wraps every method of `methods` so that whatever it throws comes out as a SesameStoreError. */
export function withStoreErrors<T extends object>(methods: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(methods)) {
    if (typeof value !== 'function') {
      wrapped[name] = value;
      continue;
    }
    const method = value as (...args: unknown[]) => Promise<unknown>;
    wrapped[name] = async (...args: unknown[]) => {
      try {
        return await method(...args);
      } catch (error) {
        throw toStoreError(error, `store.${name}`);
      }
    };
  }
  return wrapped as T;
}
