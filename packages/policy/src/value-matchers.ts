import type { Comparison } from './condition-operators.ts';
import { type IpRange, inRange, parseIp } from './ip-address.ts';
import { MATCH, type MatchResult, NO_MATCH, type Pattern, UNRESOLVED } from './pattern.ts';
import type { RequestContext } from './request-context.ts';
import { decodeBase64, parseBool } from './values.ts';

/**
 * Tests one context value against all the policy values of a condition. MATCH: some policy value matches;
 * UNRESOLVED: the context value is not of the operator's type; NO_MATCH: the value is of the right type and
 * matches no policy value. Negated operators hold only on NO_MATCH.
 *
 * A policy value naming a variable the request lacks (no default) stands for a null value that equals and is
 * like nothing, as AWS documents ("Policy variables with no value"): it matches no context value, so
 * `StringEquals` does not match on it and `StringNotEquals` does. A Deny with `StringNotEquals
 * aws:ResourceTag/Team: ${aws:PrincipalTag/Team}` therefore denies a principal without a Team tag.
 */
export interface ValueMatcher {
  test(value: string, context: RequestContext): MatchResult;
}

export class StringMatcher implements ValueMatcher {
  #patterns: readonly Pattern[];
  #ignoreCase: boolean;
  constructor(patterns: readonly Pattern[], ignoreCase: boolean) {
    this.#patterns = patterns;
    this.#ignoreCase = ignoreCase;
  }
  test(value: string, context: RequestContext): MatchResult {
    const input = this.#ignoreCase ? value.toLowerCase() : value;
    for (const pattern of this.#patterns) {
      if (pattern.match(input, context) === MATCH) return MATCH;
    }
    return NO_MATCH;
  }
}

/** NumericX and DateX: the context value (parsed by `parse`) compared with each policy value. */
export class CompareMatcher implements ValueMatcher {
  #values: readonly number[];
  #compare: Comparison;
  #parse: (text: string) => number;
  constructor(values: readonly number[], compare: Comparison, parse: (text: string) => number) {
    this.#values = values;
    this.#compare = compare;
    this.#parse = parse;
  }
  test(value: string): MatchResult {
    const n = this.#parse(value);
    if (Number.isNaN(n)) return UNRESOLVED;
    for (const v of this.#values) {
      if (compare(n, v, this.#compare)) return MATCH;
    }
    return NO_MATCH;
  }
}

function compare(context: number, policy: number, how: Comparison): boolean {
  switch (how) {
    case 'eq':
      return context === policy;
    case 'lt':
      return context < policy;
    case 'le':
      return context <= policy;
    case 'gt':
      return context > policy;
    case 'ge':
      return context >= policy;
  }
}

export class BoolMatcher implements ValueMatcher {
  #values: readonly boolean[];
  constructor(values: readonly boolean[]) {
    this.#values = values;
  }
  test(value: string): MatchResult {
    const b = parseBool(value);
    if (b === undefined) return UNRESOLVED;
    return this.#values.includes(b) ? MATCH : NO_MATCH;
  }
}

export class BinaryMatcher implements ValueMatcher {
  #values: ReadonlySet<string>;
  constructor(values: ReadonlySet<string>) {
    this.#values = values;
  }
  test(value: string): MatchResult {
    const bytes = decodeBase64(value);
    if (bytes === undefined) return UNRESOLVED;
    return this.#values.has(bytes) ? MATCH : NO_MATCH;
  }
}

export class IpMatcher implements ValueMatcher {
  #ranges: readonly IpRange[];
  constructor(ranges: readonly IpRange[]) {
    this.#ranges = ranges;
  }
  /**
   * A value that is not an address is in no range: `IpAddress` does not hold and `NotIpAddress` does, so a
   * `Deny … NotIpAddress` still applies to a source address Sesame cannot read (a forwarded header's junk, a
   * zone-scoped IPv6 address); treating it as unresolved switched such a Deny off.
   */
  test(value: string): MatchResult {
    const address = parseIp(value);
    if (!address) return NO_MATCH;
    return this.#ranges.some((range) => inRange(range, address)) ? MATCH : NO_MATCH;
  }
}

/**
 * ArnEquals / ArnLike (identical in AWS): each of the six colon-separated parts is matched on its own, so
 * a wildcard never crosses a colon except inside the resource part. A value given as one whole pattern
 * (a variable standing for the full ARN) is matched against the whole ARN.
 */
export class ArnMatcher implements ValueMatcher {
  #values: readonly (readonly Pattern[])[];
  constructor(values: readonly (readonly Pattern[])[]) {
    this.#values = values;
  }
  test(value: string, context: RequestContext): MatchResult {
    const cuts = arnCuts(value);
    if (!cuts) return UNRESOLVED;
    for (const parts of this.#values) {
      const r =
        parts.length === 1
          ? (parts[0] as Pattern).match(value, context)
          : matchParts(parts, value, cuts, context);
      if (r === MATCH) return MATCH;
    }
    return NO_MATCH;
  }
}

function matchParts(
  parts: readonly Pattern[],
  value: string,
  cuts: number[],
  context: RequestContext,
): MatchResult {
  for (let i = 0; i < 6; i++) {
    const start = i === 0 ? 0 : (cuts[i - 1] as number) + 1;
    const end = i === 5 ? value.length : (cuts[i] as number);
    if ((parts[i] as Pattern).match(value, context, start, end) !== MATCH) return NO_MATCH;
  }
  return MATCH;
}

/** Positions of the first five colons of an ARN, or undefined when it has fewer or does not start "arn:". */
export function arnCuts(value: string): number[] | undefined {
  if (!value.startsWith('arn:')) return undefined;
  const cuts = [3];
  for (let i = 1; i < 5; i++) {
    const next = value.indexOf(':', (cuts[i - 1] as number) + 1);
    if (next < 0) return undefined;
    cuts.push(next);
  }
  return cuts;
}
