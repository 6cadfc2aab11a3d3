import { type CompiledCondition, evaluateCondition, type VariableRef } from './compile-condition.ts';
import type { CompiledStatement, Decision } from './compile-statement.ts';
import type { Candidates, CompiledPolicySet } from './compiled-policy-set.ts';
import { QUALIFIERS } from './condition-operators.ts';
import { isResourceKey } from './context-key.ts';
import { checkRequest, decide, type EvaluateOptions, failed } from './evaluate.ts';
import { type ContextInput, RequestContext } from './request-context.ts';

/** Decides one target for a fixed principal and action: see evaluatorFor. */
export type TargetEvaluator = (
  resource: string,
  resourceContext?: ContextInput | RequestContext,
  options?: EvaluateOptions,
) => Decision;

/**
 * For listing: the decisions of one principal and one action over many targets (the instances a user
 * may reach). The statements that cannot apply to this principal whatever the target's tags are dropped
 * once — e.g. the State Street statements for tag groups the user does not hold, whose
 * `${aws:PrincipalTag/AppGroupNameN}` can never resolve — so each target costs only the statements left.
 * Decisions are exactly evaluate()'s for `principal.extend(resourceContext)`. The pruning relies on the
 * target context holding only target keys (aws:ResourceTag/…, ssm:resourceTag/…, the session document);
 * a target context with other keys is evaluated against the full set instead.
 */
export function evaluatorFor(
  set: CompiledPolicySet,
  action: string,
  principal: ContextInput | RequestContext,
): TargetEvaluator {
  let pruned: Candidates;
  let base: RequestContext;
  try {
    checkRequest(action, '*');
    base = RequestContext.from(principal);
    pruned = prune(set.candidates(action), base);
  } catch (error) {
    return (resource) => failed(set, error, { action, resource });
  }
  return (resource, resourceContext, options) => {
    try {
      checkRequest(action, resource);
      const target = resourceContext === undefined ? undefined : RequestContext.from(resourceContext);
      const context = target ? base.extend(target) : base;
      const usable = target === undefined || (target.resourceOnly && target.parent === undefined);
      return decide(
        usable ? pruned : set.candidates(action),
        action,
        resource,
        context,
        options?.explain === true,
      );
    } catch (error) {
      return failed(set, error, { action, resource });
    }
  };
}

function prune(candidates: Candidates, principal: RequestContext): Candidates {
  const keep = (statement: CompiledStatement) => !neverApplies(statement, principal);
  const denies = candidates.denies.filter(keep);
  const allows = candidates.allows.filter(keep);
  const dropped = candidates.allows.length - allows.length;
  const note =
    dropped === 0
      ? undefined
      : `; ${dropped} more Allow statement${dropped === 1 ? '' : 's'} cannot apply to this principal (a principal key they need is missing or fails)`;
  return { denies, allows, summaries: candidates.summaries, ...(note ? { note } : {}) };
}

/** True only when the statement cannot apply to any target for this principal. */
function neverApplies(statement: CompiledStatement, principal: RequestContext): boolean {
  if (
    !statement.notResource &&
    statement.resources.every((pattern) => isDead(pattern.variables, principal))
  ) {
    return true;
  }
  return statement.conditions.some((condition) => conditionNeverHolds(condition, principal));
}

function conditionNeverHolds(condition: CompiledCondition, principal: RequestContext): boolean {
  const touchesTarget =
    isResourceKey(condition.lookupKey) ||
    condition.valueVariables.some((vars) => vars.some((v) => isResourceKey(v.key)));
  // A condition on principal keys only: the target layer cannot change it, so decide it now.
  if (!touchesTarget) return !evaluateCondition(condition, principal);
  // A positive condition on a target key (absent key → false) whose every value names a principal
  // variable this principal lacks: no value can ever match, whatever the target's tags.
  const positive =
    condition.matcher !== undefined &&
    !condition.negated &&
    !condition.ifExists &&
    condition.qualifier !== QUALIFIERS.forAllValues;
  return positive && condition.valueVariables.every((vars) => isDead(vars, principal));
}

/** Does some variable name a principal key that is missing (or multi-valued) with no default? */
function isDead(variables: readonly VariableRef[], principal: RequestContext): boolean {
  return variables.some(
    (v) => v.fallback === undefined && !isResourceKey(v.key) && typeof principal.get(v.key) !== 'string',
  );
}
