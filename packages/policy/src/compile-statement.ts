import {
  type CompiledCondition,
  compileCondition,
  type Literals,
  type VariableRef,
} from './compile-condition.ts';
import { QUALIFIERS } from './condition-operators.ts';
import { isResourceKey } from './context-key.ts';
import { Pattern } from './pattern.ts';
import type { PolicyStatement } from './policy-types.ts';
import { parseTemplate } from './template.ts';

/** Which statement decided, for decisions and logs. `statementIndex` is the index in the Statement array. */
export type StatementRef = {
  readonly policyId: string;
  readonly statementIndex: number;
  readonly sid?: string;
};

/** A statement as the server may inspect it to pre-filter (see statementsFor). */
export type StatementSummary = StatementRef & {
  readonly effect: 'Allow' | 'Deny';
  readonly resource?: readonly string[];
  readonly notResource?: readonly string[];
  /** Condition keys as written (trimmed); empty when the statement is unconditional. */
  readonly conditionKeys: readonly string[];
  /** Resource contains "*": the statement applies to every resource (conditions permitting). */
  readonly allResources: boolean;
};

export type Decision = {
  readonly allowed: boolean;
  readonly effect: 'Allow' | 'Deny' | 'ImplicitDeny';
  readonly decidedBy?: StatementRef;
  readonly reason: string;
  /** With `explain`: for each Allow statement that matched action and resource, the conditions that failed. */
  readonly failedConditions?: readonly FailedCondition[];
  /** Set when evaluation failed; the decision is then Deny. */
  readonly error?: string;
};

export type FailedCondition = StatementRef & { readonly operator: string; readonly key: string };

/**
 * A condition key the statement cannot apply without: unless the request has a single string value for it
 * (and, with `literals`, one allowed by them), some condition or every resource fails. Used to skip statements and to
 * index them by the request's keys.
 */
export type Guard = { readonly key: string; readonly literals?: Literals };

export type CompiledStatement = {
  readonly ref: StatementRef;
  readonly label: string;
  readonly deny: boolean;
  /** Lower-cased action patterns; with notAction the statement applies to actions matching none. */
  readonly actions: readonly Pattern[];
  readonly notAction: boolean;
  /** Lower-cased service prefixes named by Action, or undefined when any action may match (`*`, NotAction). */
  readonly services: readonly string[] | undefined;
  readonly resources: readonly Pattern[];
  readonly notResource: boolean;
  readonly allResources: boolean;
  readonly conditions: readonly CompiledCondition[];
  /** The frozen decision this statement produces when it applies (shared, never mutated). */
  readonly decision: Decision;
  readonly summary: StatementSummary;
  /** What the request must have for the statement to possibly apply; see guardOf. */
  readonly guard: Guard | undefined;
  /** Position in the set, for keeping policy order when statements are gathered from an index. */
  order: number;
};

/**
 * Compiles a validated statement. `patterns` interns action and resource patterns across a set, so the
 * many statements naming `arn:aws:ec2:*:*:instance/*` share one matcher (and its memo, see Pattern).
 */
export function compileStatement(
  policyId: string,
  statement: PolicyStatement,
  variables: boolean,
  patterns: Map<string, Pattern> = new Map(),
): CompiledStatement {
  const ref: StatementRef = Object.freeze({
    policyId,
    statementIndex: statement.index,
    ...(statement.sid ? { sid: statement.sid } : {}),
  });
  const label = `policy ${JSON.stringify(policyId)} ${statement.path}${statement.sid ? ` (Sid ${JSON.stringify(statement.sid)})` : ''}`;
  const deny = statement.effect === 'Deny';
  const actionList = statement.action ?? statement.notAction ?? [];
  const actions = actionList.map((action) =>
    compilePattern(action.toLowerCase(), { variables: false, wildcards: true }, true, patterns),
  );
  const notAction = statement.notAction !== undefined;
  const services =
    notAction || actionList.includes('*')
      ? undefined
      : [...new Set(actionList.map((a) => a.slice(0, a.indexOf(':')).toLowerCase()))];
  const resourceList = statement.resource ?? statement.notResource ?? [];
  const resources = resourceList.map((resource) =>
    compilePattern(resource, { variables, wildcards: true }, false, patterns),
  );
  const notResource = statement.notResource !== undefined;
  const allResources = !notResource && resources.some((r) => r.matchesEverything);
  const conditions = statement.conditions.map((c) => {
    const compiled = compileCondition(c.operator, c.key, c.values, variables);
    if (!('lookupKey' in compiled))
      throw new TypeError(`${label}: condition at ${c.path} does not compile; was the policy validated?`);
    return compiled;
  });
  const decision: Decision = Object.freeze(
    deny
      ? {
          allowed: false,
          effect: 'Deny' as const,
          decidedBy: ref,
          reason: `explicitly denied by ${label}; an explicit Deny overrides every Allow`,
        }
      : { allowed: true, effect: 'Allow' as const, decidedBy: ref, reason: `allowed by ${label}` },
  );
  const summary: StatementSummary = Object.freeze({
    ...ref,
    effect: statement.effect,
    ...(statement.resource ? { resource: statement.resource } : { notResource: statement.notResource ?? [] }),
    conditionKeys: statement.conditions.map((c) => c.key),
    allResources,
  });
  return {
    guard: guardOf(resources, notResource, conditions),
    order: 0,
    ref,
    label,
    deny,
    actions,
    notAction,
    services,
    resources,
    notResource,
    allResources,
    conditions,
    decision,
    summary,
  };
}

function compilePattern(
  source: string,
  options: { variables: boolean; wildcards: boolean },
  ignoreCase: boolean,
  patterns: Map<string, Pattern>,
): Pattern {
  const key = `${ignoreCase ? 'i' : 's'}${options.variables ? 'v' : 'l'}${source}`;
  const known = patterns.get(key);
  if (known) return known;
  const parts = parseTemplate(source, options);
  if ('error' in parts) throw new TypeError(`${JSON.stringify(source)} does not compile: ${parts.error}`);
  const pattern = new Pattern(source, parts, ignoreCase);
  patterns.set(key, pattern);
  return pattern;
}

/**
 * The most selective guard. Sound choices, each meaning "no single string value for K (or, with values, not
 * one of them) → the statement cannot apply":
 * - the key of a positive StringEquals / StringLike without qualifier or variables: the value must equal
 *   a literal, start with a pattern's text before its first wildcard, or end with the text after its last;
 * - a variable without default in every value of a positive condition (not IfExists, not ForAllValues):
 *   unresolved, no value can match;
 * - the key of a positive condition without a set qualifier: absent or a list, it is false;
 * - a variable without default in every pattern of Resource (not NotResource): no pattern can match.
 * Principal keys are preferred (they tell users apart: State Street's `${aws:PrincipalTag/AppGroupNameN}`),
 * then keys of the target.
 */
function guardOf(
  resources: readonly Pattern[],
  notResource: boolean,
  conditions: readonly CompiledCondition[],
): Guard | undefined {
  let best: Guard | undefined;
  let bestScore = 0;
  const offer = (key: string | undefined, score: number, literals?: Literals) => {
    if (key === undefined) return;
    const total = score + (isResourceKey(key) ? 0 : 10);
    if (total > bestScore) {
      best = literals ? { key, literals } : { key };
      bestScore = total;
    }
  };
  for (const c of conditions) {
    if (!c.matcher || c.negated || c.ifExists || c.qualifier === QUALIFIERS.forAllValues) continue;
    offer(commonKey(c.valueVariables), 2);
    if (c.qualifier !== QUALIFIERS.none) continue;
    if (c.literals) offer(c.lookupKey, 3, c.literals);
    else offer(c.lookupKey, 1);
  }
  if (!notResource) offer(commonKey(resources.map((r) => r.variables)), 2);
  return best;
}

/** A variable key (without default) found in every list, if any. */
function commonKey(lists: readonly (readonly VariableRef[])[]): string | undefined {
  const [first, ...rest] = lists;
  for (const v of first ?? []) {
    if (v.fallback !== undefined) continue;
    if (rest.every((list) => list.some((w) => w.key === v.key && w.fallback === undefined))) return v.key;
  }
  return undefined;
}
