import { compileCondition, evaluateCondition } from './compile-condition.ts';
import { type BaseOperator, CONDITION_OPERATORS, parseOperator, QUALIFIERS } from './condition-operators.ts';
import { normalizeContextKey } from './context-key.ts';
import { isMultivaluedKey, isSuppliedKey } from './context-keys.ts';
import { checkTemplate } from './parse-elements.ts';
import { POLICY_LIMITS, type PolicyCondition } from './policy-types.ts';
import { childPath, describeType, isObject, quote, type Report } from './problems.ts';
import { RequestContext } from './request-context.ts';

const EMPTY_CONTEXT = RequestContext.from({});

/**
 * Validates a Condition block `{ operator: { key: value | [values] } }` and returns its conditions, or
 * undefined when it has errors. Keys with surrounding spaces are trimmed with a warning (the State Street
 * policy's `"ssm:resourceTag/APP_ID "` must work as written).
 */
export function parseConditionBlock(
  block: unknown,
  path: string,
  variables: boolean,
  report: Report,
  effect?: unknown,
): PolicyCondition[] | undefined {
  if (!isObject(block)) {
    report.error(
      path,
      `Condition must be an object such as {"StringEquals": {"aws:ResourceTag/project": "x"}}, not ${describeType(block)}`,
    );
    return undefined;
  }
  const operators = Object.keys(block);
  if (operators.length === 0) report.warn(path, 'empty Condition: it has no effect; remove it');
  const errorsBefore = report.errors.length;
  const conditions: PolicyCondition[] = [];
  for (const operator of operators) {
    const operatorPath = childPath(path, operator);
    const parsed = parseOperator(operator);
    if ('error' in parsed) {
      report.error(operatorPath, parsed.error);
      continue;
    }
    if (parsed.canonical !== operator) {
      report.warn(operatorPath, `write the operator as ${JSON.stringify(parsed.canonical)}`);
    }
    const entries = block[operator];
    if (!isObject(entries)) {
      report.error(
        operatorPath,
        `${operator} must map condition keys to values, e.g. {"aws:username": "alice"}; found ${describeType(entries)}`,
      );
      continue;
    }
    const keys = Object.keys(entries);
    if (keys.length === 0) report.error(operatorPath, `${operator} lists no condition keys`);
    const seen = new Map<string, string>();
    for (const rawKey of keys) {
      const keyPath = childPath(operatorPath, rawKey);
      const key = rawKey.trim();
      if (!key) {
        report.error(keyPath, 'empty condition key');
        continue;
      }
      if (key.length > POLICY_LIMITS.maxStringChars) {
        report.error(keyPath, `condition key is longer than ${POLICY_LIMITS.maxStringChars} characters`);
        continue;
      }
      if (key !== rawKey) {
        report.warn(keyPath, `condition key has surrounding spaces; it is matched as ${quote(key)}`);
      }
      const normalized = normalizeContextKey(key);
      const twin = seen.get(normalized);
      if (twin !== undefined) {
        report.warn(
          keyPath,
          `${quote(rawKey)} and ${quote(twin)} name the same key; both conditions must hold`,
        );
      }
      seen.set(normalized, rawKey);
      const values = readValues(entries[rawKey], keyPath, report);
      if (!values) continue;
      const condition = compileCondition(operator, key, values.list, variables);
      if ('operatorError' in condition) continue;
      if ('errors' in condition) {
        for (const { index, message } of condition.errors) report.error(values.pathOf(index), message);
        continue;
      }
      const spec = CONDITION_OPERATORS[parsed.base];
      if (spec.type === 'string' || spec.type === 'arn') {
        values.list.forEach((value, i) => {
          checkTemplate(value, values.pathOf(i), { variables, wildcards: false }, report);
          if (spec.type === 'string' && !spec.wildcards && /[*?]/.test(value)) {
            report.warn(
              values.pathOf(i),
              `${parsed.base} compares * and ? literally; use StringLike for a wildcard match`,
            );
          }
          if (value.trim() !== value)
            report.warn(
              values.pathOf(i),
              `value ${quote(value)} has surrounding spaces; they must match exactly`,
            );
        });
      }
      if (!isSuppliedKey(key)) {
        const always = evaluateCondition(condition, EMPTY_CONTEXT);
        report.warn(
          keyPath,
          `Sesame never supplies ${quote(key)}: the key is always absent, so this condition is always ${always}`,
        );
      } else if (isMultivaluedKey(key)) {
        // AWS requires a set qualifier here and does not say what happens without one; a Deny read one way could
        // be dodged by adding one more tag to the request, so it is refused.
        if (parsed.qualifier === QUALIFIERS.none && parsed.base !== 'Null')
          report.error(
            operatorPath,
            `${quote(key)} holds one value per tag key in the request: write ForAnyValue:${parsed.base} (some key must match) or ForAllValues:${parsed.base} (every key must)`,
          );
        else warnCaseSensitiveKeyBlock(parsed.base, effect, operatorPath, key, report);
      } else if (parsed.qualifier === QUALIFIERS.forAllValues) {
        report.warn(
          operatorPath,
          `${quote(key)} is single-valued and ForAllValues is also true when the key is absent; use ${parsed.base} without ForAllValues`,
        );
      }
      conditions.push({ operator, key, values: values.list, path: keyPath });
    }
  }
  if (conditions.length > POLICY_LIMITS.maxConditionsPerStatement) {
    report.error(
      path,
      `${conditions.length} condition keys in one statement; the limit is ${POLICY_LIMITS.maxConditionsPerStatement}`,
    );
  }
  return report.errors.length === errorsBefore ? conditions : undefined;
}

/**
 * Policies read tags whatever the letter case of their keys (`aws:PrincipalTag/APP_GROUP_NAME` also reads a tag
 * `app_group_name`), but a string operator on `aws:TagKeys` compares keys as written unless it is an IgnoreCase
 * one. A condition that blocks a key (true in a Deny, false in an Allow) is then dodged by writing the key in
 * other letters; one that only lets listed keys through fails closed and is fine.
 */
function warnCaseSensitiveKeyBlock(
  base: BaseOperator,
  effect: unknown,
  path: string,
  key: string,
  report: Report,
) {
  const spec = CONDITION_OPERATORS[base];
  if (spec.type !== 'string' || spec.ignoreCase || (effect !== 'Allow' && effect !== 'Deny')) return;
  if ((effect === 'Deny') === spec.negated) return;
  const instead = spec.wildcards
    ? 'list the keys with ForAnyValue:StringEqualsIgnoreCase instead (there is no IgnoreCase form with wildcards)'
    : `use ${base}IgnoreCase`;
  report.warn(
    path,
    `${base} compares the tag keys in ${quote(key)} letter for letter, but policies read tags whatever their case (aws:PrincipalTag/Team also reads a tag "team"), so this ${effect} does not hold for a key written in other letters: ${instead}`,
  );
}

type Values = { list: string[]; pathOf: (i: number) => string };

/** A condition value: string, number or boolean, or a non-empty list of them (IAM converts to strings). */
function readValues(value: unknown, path: string, report: Report): Values | undefined {
  const scalar = (v: unknown, at: string): string | undefined => {
    if (typeof v === 'string') {
      if (v.length <= POLICY_LIMITS.maxStringChars) return v;
      report.error(at, `condition value is longer than ${POLICY_LIMITS.maxStringChars} characters`);
      return undefined;
    }
    if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean') return String(v);
    report.error(
      at,
      typeof v === 'number'
        ? 'a condition value must be a finite number; this one is too large (write it as a string)'
        : `a condition value must be a string, number or boolean, not ${describeType(v)}`,
    );
    return undefined;
  };
  if (!Array.isArray(value)) {
    const one = scalar(value, path);
    return one === undefined ? undefined : { list: [one], pathOf: () => path };
  }
  if (value.length === 0) {
    report.error(path, 'empty value list: give at least one value (an empty list would never match)');
    return undefined;
  }
  if (value.length > POLICY_LIMITS.maxListEntries) {
    report.error(path, `${value.length} values; the limit is ${POLICY_LIMITS.maxListEntries}`);
    return undefined;
  }
  const list: string[] = [];
  value.forEach((v, i) => {
    const s = scalar(v, childPath(path, i));
    if (s !== undefined) list.push(s);
  });
  return list.length === value.length ? { list, pathOf: (i) => childPath(path, i) } : undefined;
}
