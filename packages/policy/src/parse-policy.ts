import { parseJson } from './json-parse.ts';
import { parseStatement } from './parse-statement.ts';
import {
  POLICY_LANGUAGE_VERSIONS,
  POLICY_LIMITS,
  type Policy,
  type PolicyStatement,
  type PolicyVersion,
} from './policy-types.ts';
import { caseHint, childPath, describeType, isObject, type Problem, quote, Report } from './problems.ts';

export type ParseResult =
  | { ok: true; policy: Policy; warnings: Problem[] }
  | { ok: false; errors: Problem[]; warnings: Problem[] };

const TOP_KEYS = ['Version', 'Id', 'Statement'] as const;

/**
 * Validates an IAM identity policy (JSON text or an already-parsed value) and returns it normalised, or
 * every problem found, each with its JSON path (and line/column when given text). Never throws. Warnings
 * point at likely mistakes that do not stop the policy from working as written.
 */
export function parsePolicy(input: unknown): ParseResult {
  try {
    return parse(input);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return {
      ok: false,
      errors: [{ path: '$', message: `the policy could not be validated (${detail}); it was not accepted` }],
      warnings: [],
    };
  }
}

function parse(input: unknown): ParseResult {
  const report = new Report();
  let document = input;
  let locate: ((path: string) => { line: number; column: number } | undefined) | undefined;
  if (typeof input === 'string') {
    if (input.length > POLICY_LIMITS.maxDocumentChars) {
      return fail([
        {
          path: '$',
          message: `the policy is ${input.length} characters; the limit is ${POLICY_LIMITS.maxDocumentChars}`,
        },
      ]);
    }
    const json = parseJson(input, POLICY_LIMITS.maxNestingDepth);
    if (!json.ok) return fail([json.error]);
    document = json.value;
    report.errors.push(...json.duplicates);
    locate = json.locate;
  } else {
    const size = measure(input);
    if (size === undefined)
      return fail([
        { path: '$', message: 'the policy is not JSON data (it has a cycle, a function or a bigint)' },
      ]);
    if (size > POLICY_LIMITS.maxDocumentChars) {
      return fail([
        {
          path: '$',
          message: `the policy is ${size} characters as JSON; the limit is ${POLICY_LIMITS.maxDocumentChars}`,
        },
      ]);
    }
  }
  const policy = readDocument(document, report);
  const place = (problem: Problem): Problem => {
    const at = problem.line === undefined ? locate?.(problem.path) : undefined;
    return at ? { ...problem, ...at } : problem;
  };
  const errors = byPosition(report.errors.map(place));
  const warnings = byPosition(report.warnings.map(place));
  if (errors.length > 0 || !policy) return { ok: false, errors, warnings };
  return { ok: true, policy, warnings };
}

/** Problems in document order when their places are known (the sort is stable, so others keep theirs). */
function byPosition(problems: Problem[]): Problem[] {
  if (!problems.every((p) => p.line !== undefined)) return problems;
  return problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
}

function fail(errors: Problem[]): ParseResult {
  return { ok: false, errors, warnings: [] };
}

function measure(value: unknown): number | undefined {
  try {
    const text = JSON.stringify(value);
    return typeof text === 'string' ? text.length : undefined;
  } catch {
    return undefined;
  }
}

function readDocument(document: unknown, report: Report): Policy | undefined {
  if (!isObject(document)) {
    report.error(
      '$',
      `a policy is a JSON object with "Version" and "Statement", not ${describeType(document)}`,
    );
    return undefined;
  }
  for (const key of Object.keys(document)) {
    if (!(TOP_KEYS as readonly string[]).includes(key)) {
      report.error(
        childPath('$', key),
        `unknown top-level key ${quote(key)}${caseHint(key, TOP_KEYS)}; a policy has Version, Id and Statement`,
      );
    }
  }
  const version = readVersion(document.Version, report);
  if (document.Id !== undefined && typeof document.Id !== 'string') {
    report.error('$.Id', `Id must be a string, not ${describeType(document.Id)}`);
  }
  const statements = readStatements(document.Statement, version ?? '2012-10-17', report);
  if (!version || !statements) return undefined;
  return {
    version,
    ...(typeof document.Id === 'string' ? { id: document.Id } : {}),
    statements,
  } as unknown as Policy;
}

function readVersion(version: unknown, report: Report): PolicyVersion | undefined {
  if (version === undefined) {
    report.warn(
      '$',
      `no "Version": IAM then reads the policy as 2008-10-17, where \${…} policy variables are literal text; add "Version": "2012-10-17"`,
    );
    return '2008-10-17';
  }
  if (typeof version === 'string' && (POLICY_LANGUAGE_VERSIONS as readonly string[]).includes(version)) {
    return version as PolicyVersion;
  }
  report.error(
    '$.Version',
    `Version must be "2012-10-17" (or the older "2008-10-17"), not ${quote(version)}`,
  );
  return undefined;
}

function readStatements(raw: unknown, version: PolicyVersion, report: Report): PolicyStatement[] | undefined {
  const variables = version === '2012-10-17';
  if (raw === undefined) {
    report.error('$', 'missing "Statement": a policy needs at least one statement');
    return undefined;
  }
  if (isObject(raw)) {
    const one = parseStatement(raw, '$.Statement', 0, variables, report);
    return one ? [one] : undefined;
  }
  if (!Array.isArray(raw)) {
    report.error(
      '$.Statement',
      `Statement must be an object or an array of objects, not ${describeType(raw)}`,
    );
    return undefined;
  }
  if (raw.length > POLICY_LIMITS.maxStatements) {
    report.error('$.Statement', `${raw.length} statements; the limit is ${POLICY_LIMITS.maxStatements}`);
    return undefined;
  }
  if (raw.length === 0) report.warn('$.Statement', 'no statements: this policy allows nothing');
  const statements: PolicyStatement[] = [];
  const sids = new Map<string, string>();
  let failed = false;
  raw.forEach((item, i) => {
    const path = childPath('$.Statement', i);
    const statement = parseStatement(item, path, i, variables, report);
    if (!statement) failed = true;
    else statements.push(statement);
    const sid = isObject(item) && typeof item.Sid === 'string' && item.Sid !== '' ? item.Sid : undefined;
    if (sid === undefined) return;
    const first = sids.get(sid);
    if (first)
      report.error(
        childPath(path, 'Sid'),
        `Sid ${quote(sid)} is already used by ${first}; Sids must be unique within a policy`,
      );
    else sids.set(sid, path);
  });
  return failed ? undefined : statements;
}
