import { evaluateCondition } from './compile-condition.ts';
import type { CompiledStatement, Decision, FailedCondition } from './compile-statement.ts';
import type { Candidates, CompiledPolicySet, GuardIndex } from './compiled-policy-set.ts';
import { MATCH } from './pattern.ts';
import { type ContextInput, RequestContext } from './request-context.ts';

/**
 * One authorization question. `context` holds condition keys (see principalContext / resourceContext);
 * a plain object is accepted and normalised on first use.
 */
export type Request = {
  readonly action: string;
  readonly resource: string;
  readonly context?: ContextInput | RequestContext;
};

export type EvaluateOptions = {
  /** Also report, for Allow statements that matched action and resource, which conditions failed. */
  explain?: boolean;
};

/**
 * Decides a request as AWS evaluates identity policies: an applicable Deny wins, else an applicable Allow,
 * else an implicit deny. A statement applies when its action, resource and every condition match.
 * Never throws: a failure (a malformed request or context) is a Deny that carries `error`, reported
 * through the set's onError.
 */
export function evaluate(set: CompiledPolicySet, request: Request, options?: EvaluateOptions): Decision {
  try {
    const { action, resource } = request;
    checkRequest(action, resource);
    const raw = request.context;
    const context = raw instanceof RequestContext ? raw : RequestContext.from(raw ?? {});
    return decide(set.candidates(action), action, resource, context, options?.explain === true);
  } catch (error) {
    return failed(set, error, request);
  }
}

/** The Deny for a request that could not be evaluated, reported through the set's onError. */
export function failed(
  set: CompiledPolicySet,
  error: unknown,
  request: { action?: unknown; resource?: unknown } | null | undefined,
): Decision {
  const message = error instanceof Error ? error.message : String(error);
  try {
    set.onError?.(error, { action: request?.action, resource: request?.resource });
  } catch {
    // A failing logger must not turn a deny into an exception.
  }
  return {
    allowed: false,
    effect: 'Deny',
    reason: `denied because the request could not be evaluated: ${message}`,
    error: message,
  };
}

export function checkRequest(action: unknown, resource: unknown): asserts action is string {
  if (typeof action !== 'string' || action === '')
    throw new TypeError('request.action must be a non-empty string');
  if (typeof resource !== 'string' || resource === '') {
    throw new TypeError('request.resource must be a non-empty string');
  }
}

/** Deny statements first (any applicable one decides), then the first applicable Allow, else implicit deny. */
export function decide(
  candidates: Candidates,
  action: string,
  resource: string,
  context: RequestContext,
  explain: boolean,
): Decision {
  // Explain (the simulator) looks at every statement; otherwise statements whose guard the request does not
  // satisfy are skipped, or never gathered when the action has an index of them.
  const guarded = !explain;
  const selected = guarded && candidates.index ? select(candidates.index, context) : candidates;
  for (const statement of selected.denies) {
    if (guarded && lacksGuard(statement, context)) continue;
    if (applies(statement, resource, context)) return statement.decision;
  }
  for (const statement of selected.allows) {
    if (guarded && lacksGuard(statement, context)) continue;
    if (applies(statement, resource, context)) return statement.decision;
  }
  if (explain) {
    return {
      allowed: false,
      effect: 'ImplicitDeny',
      reason: implicitDenyReason(candidates, action, resource, context),
      failedConditions: explainFailures(candidates.allows, resource, context),
    };
  }
  // The reason walks every Allow statement, so it is worked out only when someone reads it (a listing of
  // 100,000 instances reads none).
  return {
    allowed: false,
    effect: 'ImplicitDeny',
    get reason() {
      return implicitDenyReason(candidates, action, resource, context);
    },
  };
}

function implicitDenyReason(
  candidates: Candidates,
  action: string,
  resource: string,
  context: RequestContext,
): string {
  let failures = 0;
  let first: CompiledStatement | undefined;
  for (const statement of candidates.allows) {
    if (!resourceMatches(statement, resource, context)) continue;
    failures++;
    first ??= statement;
  }
  let reason: string;
  if (candidates.allows.length === 0) reason = `no statement allows ${action} (implicit deny)`;
  else if (failures === 0) reason = `no statement allows ${action} on ${resource} (implicit deny)`;
  else {
    const one = failures === 1;
    reason =
      `implicitly denied: ${one ? 'the statement' : `${failures} statements`} allowing ${action} on ${resource} ` +
      `(first: ${first?.label}) ${one ? 'has a condition that does' : 'have conditions that do'} not hold`;
  }
  return candidates.note ? reason + candidates.note : reason;
}

function lacksGuard(statement: CompiledStatement, context: RequestContext): boolean {
  const guard = statement.guard;
  if (guard === undefined) return false;
  const value = context.get(guard.key);
  if (typeof value !== 'string') return true;
  const literals = guard.literals;
  if (literals === undefined || literals.values.has(value)) return false;
  for (const prefix of literals.prefixes) if (value.startsWith(prefix)) return false;
  for (const suffix of literals.suffixes) if (value.endsWith(suffix)) return false;
  return true;
}

/** The unguarded statements plus those whose guard the request satisfies, in policy order. */
function select(
  index: GuardIndex,
  context: RequestContext,
): { denies: CompiledStatement[]; allows: CompiledStatement[] } {
  const gathered = [...index.unguarded];
  const before = gathered.length;
  const gather = (list: readonly CompiledStatement[] | undefined) => {
    if (list) for (const statement of list) gathered.push(statement);
  };
  context.forEachKey((key, value) => {
    if (typeof value !== 'string') return;
    const entry = index.byGuard.get(key);
    if (!entry) return;
    gather(entry.anyValue);
    gather(entry.byValue.get(value));
    for (const length of entry.prefixLengths) {
      if (length > value.length) break;
      gather(entry.byPrefix.get(value.slice(0, length)));
    }
    for (const length of entry.suffixLengths) {
      if (length > value.length) break;
      gather(entry.bySuffix.get(value.slice(value.length - length)));
    }
  });
  if (gathered.length > before) gathered.sort((a, b) => a.order - b.order);
  const denies: CompiledStatement[] = [];
  const allows: CompiledStatement[] = [];
  let previous: CompiledStatement | undefined;
  for (const statement of gathered) {
    if (statement === previous) continue; // a statement reached by a value and by a prefix
    previous = statement;
    (statement.deny ? denies : allows).push(statement);
  }
  return { denies, allows };
}

function applies(statement: CompiledStatement, resource: string, context: RequestContext): boolean {
  return resourceMatches(statement, resource, context) && conditionsHold(statement, context);
}

function resourceMatches(statement: CompiledStatement, resource: string, context: RequestContext): boolean {
  if (statement.allResources) return true;
  let matched = false;
  for (const pattern of statement.resources) {
    if (pattern.match(resource, context) === MATCH) {
      matched = true;
      break;
    }
  }
  return matched !== statement.notResource;
}

function conditionsHold(statement: CompiledStatement, context: RequestContext): boolean {
  for (const condition of statement.conditions) {
    if (!evaluateCondition(condition, context)) return false;
  }
  return true;
}

function explainFailures(
  allows: readonly CompiledStatement[],
  resource: string,
  context: RequestContext,
): FailedCondition[] {
  const failures: FailedCondition[] = [];
  for (const statement of allows) {
    if (!resourceMatches(statement, resource, context)) continue;
    for (const condition of statement.conditions) {
      if (!evaluateCondition(condition, context)) {
        failures.push({ ...statement.ref, operator: condition.operator, key: condition.key });
      }
    }
  }
  return failures;
}
