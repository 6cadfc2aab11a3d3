/**
 * The IAM condition operators. `negated` operators hold when the context value matches none of the policy
 * values, and also when the key is absent (as AWS documents); `variables` says whether policy variables are
 * substituted in the operator's values (AWS: String and ARN operators only); `wildcards` whether * and ? in
 * values are patterns.
 */
export const CONDITION_OPERATORS = {
  StringEquals: { type: 'string', negated: false, wildcards: false, ignoreCase: false },
  StringNotEquals: { type: 'string', negated: true, wildcards: false, ignoreCase: false },
  StringEqualsIgnoreCase: { type: 'string', negated: false, wildcards: false, ignoreCase: true },
  StringNotEqualsIgnoreCase: { type: 'string', negated: true, wildcards: false, ignoreCase: true },
  StringLike: { type: 'string', negated: false, wildcards: true, ignoreCase: false },
  StringNotLike: { type: 'string', negated: true, wildcards: true, ignoreCase: false },
  NumericEquals: { type: 'numeric', negated: false, compare: 'eq' },
  NumericNotEquals: { type: 'numeric', negated: true, compare: 'eq' },
  NumericLessThan: { type: 'numeric', negated: false, compare: 'lt' },
  NumericLessThanEquals: { type: 'numeric', negated: false, compare: 'le' },
  NumericGreaterThan: { type: 'numeric', negated: false, compare: 'gt' },
  NumericGreaterThanEquals: { type: 'numeric', negated: false, compare: 'ge' },
  DateEquals: { type: 'date', negated: false, compare: 'eq' },
  DateNotEquals: { type: 'date', negated: true, compare: 'eq' },
  DateLessThan: { type: 'date', negated: false, compare: 'lt' },
  DateLessThanEquals: { type: 'date', negated: false, compare: 'le' },
  DateGreaterThan: { type: 'date', negated: false, compare: 'gt' },
  DateGreaterThanEquals: { type: 'date', negated: false, compare: 'ge' },
  Bool: { type: 'bool', negated: false },
  BinaryEquals: { type: 'binary', negated: false },
  IpAddress: { type: 'ip', negated: false },
  NotIpAddress: { type: 'ip', negated: true },
  ArnEquals: { type: 'arn', negated: false },
  ArnLike: { type: 'arn', negated: false },
  ArnNotEquals: { type: 'arn', negated: true },
  ArnNotLike: { type: 'arn', negated: true },
  Null: { type: 'null', negated: false },
} as const;

export type BaseOperator = keyof typeof CONDITION_OPERATORS;
export type OperatorType = (typeof CONDITION_OPERATORS)[BaseOperator]['type'];
export type Comparison = 'eq' | 'lt' | 'le' | 'gt' | 'ge';

export const QUALIFIERS = { none: 0, forAnyValue: 1, forAllValues: 2 } as const;
export type Qualifier = (typeof QUALIFIERS)[keyof typeof QUALIFIERS];

export type ParsedOperator = {
  base: BaseOperator;
  qualifier: Qualifier;
  ifExists: boolean;
  /** The operator spelled canonically, e.g. `ForAnyValue:StringLike`. */
  canonical: string;
};

const BY_LOWER = new Map<string, BaseOperator>(
  Object.keys(CONDITION_OPERATORS).map((name) => [name.toLowerCase(), name as BaseOperator]),
);

/**
 * Splits `ForAnyValue:StringLikeIfExists` into its parts. Names are matched case-insensitively (AWS accepts
 * `stringequals`); the caller warns when the spelling differs from `canonical`.
 */
export function parseOperator(name: string): ParsedOperator | { error: string } {
  let rest = name;
  let qualifier: Qualifier = QUALIFIERS.none;
  let prefix = '';
  const colon = rest.indexOf(':');
  if (colon >= 0) {
    const set = rest.slice(0, colon).toLowerCase();
    if (set === 'foranyvalue') {
      qualifier = QUALIFIERS.forAnyValue;
      prefix = 'ForAnyValue:';
    } else if (set === 'forallvalues') {
      qualifier = QUALIFIERS.forAllValues;
      prefix = 'ForAllValues:';
    } else {
      return {
        error: `unknown set qualifier ${JSON.stringify(rest.slice(0, colon))}: use ForAnyValue: or ForAllValues:`,
      };
    }
    rest = rest.slice(colon + 1);
  }
  let ifExists = false;
  if (rest.toLowerCase().endsWith('ifexists')) {
    ifExists = true;
    rest = rest.slice(0, -'IfExists'.length);
  }
  const base = BY_LOWER.get(rest.toLowerCase());
  if (!base) return { error: `unknown condition operator ${JSON.stringify(name)}${suggest(rest)}` };
  if (base === 'Null' && ifExists)
    return { error: 'NullIfExists does not exist: Null already tests whether the key is present' };
  if (base === 'Null' && qualifier !== QUALIFIERS.none) {
    return {
      error: `${prefix}Null is not meaningful: Null tests whether the key is present; drop ${prefix}`,
    };
  }
  return { base, qualifier, ifExists, canonical: `${prefix}${base}${ifExists ? 'IfExists' : ''}` };
}

function suggest(name: string): string {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = 4;
  // Each operator with and without IfExists (StringEqualsIfExist is one letter from StringEqualsIfExists).
  for (const [candidateLower, candidate] of BY_LOWER) {
    for (const [spelled, shown] of [
      [candidateLower, candidate],
      [`${candidateLower}ifexists`, `${candidate}IfExists`],
    ] as const) {
      const d = distance(lower, spelled);
      if (d < bestDistance) {
        bestDistance = d;
        best = shown;
      }
    }
  }
  const list =
    'StringEquals, StringLike, NumericLessThan, DateGreaterThan, Bool, IpAddress, ArnLike, Null, …';
  return best ? `; did you mean ${best}?` : `; operators are ${list}`;
}

/** Levenshtein distance, for "did you mean" hints. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
