/**
 * A problem found in a policy document. `path` is a JSON path such as `$.Statement[1].Condition.StringEquals`;
 * `line` and `column` (1-based) are given when the policy was parsed from text and the place is known.
 */
export type Problem = { path: string; message: string; line?: number; column?: number };

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The JSON path of a member (`.Key` or `["odd key"]`) or an element (`[3]`) of the value at `parent`. */
export function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return IDENTIFIER.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
}

/** A value quoted for a message, shortened so one bad value cannot flood a report. */
export function quote(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : describeType(value);
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}

/** "a string", "an array", "null", … for messages about wrong types. */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'a boolean';
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}

/** A plain JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Collects the errors and warnings of one validation run. */
export class Report {
  readonly errors: Problem[] = [];
  readonly warnings: Problem[] = [];

  error(path: string, message: string): void {
    this.errors.push({ path, message });
  }

  warn(path: string, message: string): void {
    this.warnings.push({ path, message });
  }
}

/** `"statement"` → ` (keys are case-sensitive: did you mean "Statement"?)` when a known key differs only in case. */
export function caseHint(key: string, known: readonly string[]): string {
  const match = known.find((k) => k.toLowerCase() === key.trim().toLowerCase());
  return match ? ` (keys are case-sensitive: did you mean ${JSON.stringify(match)}?)` : '';
}
