import {
  CONDITION_OPERATORS,
  type ParsedOperator,
  parseOperator,
  QUALIFIERS,
  type Qualifier,
} from './condition-operators.ts';
import { normalizeContextKey } from './context-key.ts';
import { type IpRange, parseCidr } from './ip-address.ts';
import { MATCH, NO_MATCH, Pattern } from './pattern.ts';
import type { ContextValue, RequestContext } from './request-context.ts';
import { parseTemplate } from './template.ts';
import {
  ArnMatcher,
  BinaryMatcher,
  BoolMatcher,
  CompareMatcher,
  IpMatcher,
  StringMatcher,
  type ValueMatcher,
} from './value-matchers.ts';
import { decodeBase64, parseBool, parseDate, parseNumber } from './values.ts';

/** A condition ready to evaluate. `matcher` is undefined for Null, which uses `nullValues`. */
export type CompiledCondition = {
  readonly operator: string;
  readonly key: string;
  readonly lookupKey: string;
  readonly negated: boolean;
  readonly qualifier: Qualifier;
  readonly ifExists: boolean;
  readonly matcher: ValueMatcher | undefined;
  readonly nullValues: readonly boolean[];
  /** The policy variables in each value (for evaluatorFor's pruning). */
  readonly valueVariables: readonly (readonly VariableRef[])[];
  /**
   * For StringEquals / StringLike without variables: what any matching context value must look like. It
   * equals one of `values` (a literal), starts with one of `prefixes` (the text before a pattern's first
   * wildcard) or ends with one of `suffixes` (after the last wildcard, for patterns starting with one).
   * Undefined when some value constrains nothing (`*`, `*x*`). For indexing.
   */
  readonly literals: Literals | undefined;
};

export type Literals = {
  readonly values: ReadonlySet<string>;
  readonly prefixes: readonly string[];
  readonly suffixes: readonly string[];
};

export type VariableRef = { readonly key: string; readonly fallback: string | undefined };

/** Problems with individual values, by index into the value list. */
export type ValueErrors = { errors: { index: number; message: string }[] };

/**
 * Compiles one operator/key/values triple. The same code validates (parsePolicy reports the errors at each
 * value's path) and compiles, so what is accepted is exactly what can be evaluated.
 */
export function compileCondition(
  operatorName: string,
  key: string,
  values: readonly string[],
  variables: boolean,
): CompiledCondition | ValueErrors | { operatorError: string } {
  const parsed = parseOperator(operatorName);
  if ('error' in parsed) return { operatorError: parsed.error };
  const built = buildMatcher(parsed, values, variables);
  if ('errors' in built) return built;
  const spec = CONDITION_OPERATORS[parsed.base];
  return {
    operator: operatorName,
    key,
    lookupKey: normalizeContextKey(key),
    negated: spec.negated,
    qualifier: parsed.qualifier,
    ifExists: parsed.ifExists,
    matcher: built.matcher,
    nullValues: built.nullValues,
    valueVariables: values.map((value) =>
      variablesIn(value, variables && (spec.type === 'string' || spec.type === 'arn')),
    ),
    literals: literalsOf(parsed, values, variables),
  };
}

function literalsOf(op: ParsedOperator, values: readonly string[], variables: boolean): Literals | undefined {
  if (op.base !== 'StringEquals' && op.base !== 'StringLike') return undefined;
  const exact = new Set<string>();
  const prefixes: string[] = [];
  const suffixes: string[] = [];
  for (const value of values) {
    // `$` may start a variable or an escape such as ${*}: leave those values alone.
    if (variables && value.includes('$')) return undefined;
    const first = op.base === 'StringLike' ? value.search(/[*?]/) : -1;
    if (first < 0) exact.add(value);
    else if (first > 0) prefixes.push(value.slice(0, first));
    else {
      const tail = value.slice(Math.max(value.lastIndexOf('*'), value.lastIndexOf('?')) + 1);
      if (!tail) return undefined;
      suffixes.push(tail);
    }
  }
  return { values: exact, prefixes, suffixes };
}

function variablesIn(value: string, variables: boolean): VariableRef[] {
  if (!variables) return [];
  const parts = parseTemplate(value, { variables: true, wildcards: false });
  if (!Array.isArray(parts)) return [];
  return parts.flatMap((part) => (part.kind === 'var' ? [{ key: part.key, fallback: part.fallback }] : []));
}

type Built = { matcher: ValueMatcher | undefined; nullValues: boolean[] } | ValueErrors;

function buildMatcher(op: ParsedOperator, values: readonly string[], variables: boolean): Built {
  const spec = CONDITION_OPERATORS[op.base];
  const errors: { index: number; message: string }[] = [];
  const each = <T>(convert: (value: string) => T | string): T[] => {
    const out: T[] = [];
    values.forEach((value, index) => {
      const converted = convert(value);
      if (typeof converted === 'string') errors.push({ index, message: converted });
      else out.push(converted);
    });
    return out;
  };
  const noVariable = (value: string, kind: string) =>
    variables && value.includes('${')
      ? `policy variables are substituted only in String and ARN conditions, not in ${kind}`
      : undefined;
  let matcher: ValueMatcher | undefined;
  let nullValues: boolean[] = [];
  switch (spec.type) {
    case 'string': {
      const ignoreCase = 'ignoreCase' in spec && spec.ignoreCase;
      const wildcards = 'wildcards' in spec && spec.wildcards;
      const patterns = each((value) => {
        const parts = parseTemplate(value, { variables, wildcards });
        return 'error' in parts ? parts.error : new Pattern(value, parts, ignoreCase);
      });
      matcher = new StringMatcher(patterns, ignoreCase);
      break;
    }
    case 'numeric':
    case 'date': {
      const parse = spec.type === 'numeric' ? parseNumber : parseDate;
      const numbers = each((value) => {
        const n = parse(value);
        if (!Number.isNaN(n)) return n;
        return (
          noVariable(value, `${spec.type} conditions`) ??
          (spec.type === 'numeric'
            ? `${JSON.stringify(value)} is not a number`
            : `${JSON.stringify(value)} is not a date: write ISO 8601 (2024-05-01T12:00:00Z) or epoch seconds`)
        );
      });
      matcher = new CompareMatcher(numbers, spec.compare, parse);
      break;
    }
    case 'bool': {
      const bools = each(
        (value) =>
          parseBool(value) ??
          noVariable(value, 'Bool') ??
          `Bool takes "true" or "false", not ${JSON.stringify(value)}`,
      );
      matcher = new BoolMatcher(bools);
      break;
    }
    case 'binary': {
      // Decoded bytes are strings too, so wrap them: `each` reads a bare string as an error message.
      const decoded = each((value) => {
        const bytes = decodeBase64(value);
        return bytes === undefined
          ? `${JSON.stringify(value)} is not base64 (BinaryEquals compares base64-encoded bytes)`
          : { bytes };
      });
      matcher = new BinaryMatcher(new Set(decoded.map((d) => d.bytes)));
      break;
    }
    case 'ip': {
      const ranges = each<IpRange>(
        (value) =>
          parseCidr(value) ??
          noVariable(value, 'IpAddress') ??
          `${JSON.stringify(value)} is not an IP address or CIDR range such as 203.0.113.0/24`,
      );
      matcher = new IpMatcher(ranges);
      break;
    }
    case 'arn': {
      const arns = each((value) => compileArnValue(value, variables));
      matcher = new ArnMatcher(arns);
      break;
    }
    case 'null':
      nullValues = each(
        (value) =>
          parseBool(value) ??
          `Null takes "true" (key absent) or "false" (key present), not ${JSON.stringify(value)}`,
      );
      break;
  }
  return errors.length > 0 ? { errors } : { matcher, nullValues };
}

function compileArnValue(value: string, variables: boolean): Pattern[] | string {
  const parts: string[] = [];
  let from = 0;
  for (let i = 0; i < 5; i++) {
    const colon = value.indexOf(':', from);
    if (colon < 0) break;
    parts.push(value.slice(from, colon));
    from = colon + 1;
  }
  parts.push(value.slice(from));
  const whole = parts.length < 6 && variables && value.includes('${');
  if (!whole && (parts.length < 6 || (parts[0] !== 'arn' && parts[0] !== '*'))) {
    return `${JSON.stringify(value)} is not an ARN: ARN conditions compare arn:partition:service:region:account:resource`;
  }
  const compiled: Pattern[] = [];
  for (const part of whole ? [value] : parts) {
    const template = parseTemplate(part, { variables, wildcards: true });
    if ('error' in template) return template.error;
    compiled.push(new Pattern(part, template));
  }
  return compiled;
}

/**
 * Evaluates a condition as AWS documents it: an absent key satisfies only …IfExists, negated operators and
 * ForAllValues; ForAnyValue needs some context value to satisfy the operator, ForAllValues every one; a
 * single string is a one-element set, and to a set qualifier an empty string is the empty set. A list value
 * without a set qualifier does not match: the parser refuses such a condition on the one multivalued key Sesame
 * supplies (aws:TagKeys), and a list for any other key is a caller's mistake that must not widen access.
 */
export function evaluateCondition(condition: CompiledCondition, context: RequestContext): boolean {
  const value: ContextValue | undefined = context.get(condition.lookupKey);
  const set = condition.qualifier !== QUALIFIERS.none;
  const present =
    value !== undefined && (typeof value === 'string' ? !(set && value === '') : value.length > 0);
  const matcher = condition.matcher;
  if (!matcher) return condition.nullValues.includes(!present);
  if (!present) {
    if (condition.ifExists || condition.qualifier === QUALIFIERS.forAllValues) return true;
    return condition.qualifier === QUALIFIERS.none && condition.negated;
  }
  if (typeof value === 'string') return holds(condition, matcher, value, context);
  if (!set) return false;
  const all = condition.qualifier === QUALIFIERS.forAllValues;
  for (const item of value as readonly string[]) {
    if (holds(condition, matcher, item, context) !== all) return !all;
  }
  return all;
}

function holds(
  condition: CompiledCondition,
  matcher: ValueMatcher,
  value: string,
  context: RequestContext,
): boolean {
  const r = matcher.test(value, context);
  return condition.negated ? r === NO_MATCH : r === MATCH;
}
