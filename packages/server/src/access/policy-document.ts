import { parsePolicy } from '@sesame/policy';
import { SesameError } from '../errors.ts';

const NAME = /^[A-Za-z0-9+=,.@_-]{1,128}$/;

export function checkName(value: unknown, what: string): string {
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw new SesameError(
      'INVALID',
      `${what} name must be 1-128 letters, digits or + = , . @ _ - (got ${JSON.stringify(value)})`,
    );
  }
  return value;
}

/**
 * Validates a policy document (JSON text or an object) before anything is saved: a malformed policy is
 * rejected whole, with every problem located by JSON path (and line/column for text). Returns the text to
 * store (the caller's own text, so their formatting survives) and the warnings to show.
 */
export function checkPolicyDocument(
  value: unknown,
  what: string,
): { document: string; warnings: { path: string; message: string }[] } {
  if (value === undefined || value === null || value === '')
    throw new SesameError('INVALID', `${what}: a policy document is required`);
  const document = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  const result = parsePolicy(document);
  if (!result.ok) {
    const list = result.errors.map((e) => `${e.path}: ${e.message}`);
    const shown = list.slice(0, 5).join('; ');
    const more = list.length > 5 ? `; and ${list.length - 5} more` : '';
    throw new SesameError(
      'INVALID',
      `${what} is not a valid policy (${list.length} problem${list.length === 1 ? '' : 's'}): ${shown}${more}`,
      {
        details: { errors: result.errors, warnings: result.warnings },
      },
    );
  }
  return { document, warnings: result.warnings };
}
