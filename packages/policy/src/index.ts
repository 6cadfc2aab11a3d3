/**
 * @sesame/policy — IAM identity policies: grammar, validation and evaluation, as AWS documents them.
 * Pure: no Node or DOM imports, no dependencies.
 *
 * Save time:   parsePolicy(text) → { ok: true, policy, warnings } | { ok: false, errors, warnings }
 *              (every problem has a JSON path and, for text, line/column; never throws).
 * Load time:   compilePolicies([{ id, policy }, …], { onError }) → CompiledPolicySet (immutable; rebuild
 *              it when policies change, then swap it in: a policy is never half-applied).
 * Each check:  evaluate(set, { action, resource, context }, { explain }) → Decision
 *              (explicit Deny > Allow > implicit deny; never throws; an error is a Deny).
 * Contexts:    principalContext({ username, userId, tags, … }).extend(resourceContext(instance.tags));
 *              a plain `{ 'ssm:resourceTag/project': 'Production', … }` object works too.
 * Listing:     evaluatorFor(set, action, principal) → (resource, resourceContext) => Decision, the same
 *              decisions with the statements this principal can never satisfy set aside once.
 * Pre-filter:  statementsFor(set, action) lists the statements that could decide an action.
 */
export type { Decision, FailedCondition, StatementRef, StatementSummary } from './compile-statement.ts';
export {
  CompiledPolicySet,
  type CompileOptions,
  compilePolicies,
  statementsFor,
} from './compiled-policy-set.ts';
export { CONDITION_OPERATORS } from './condition-operators.ts';
export { normalizeContextKey } from './context-key.ts';
export {
  isSuppliedKey,
  type PrincipalFacts,
  principalContext,
  resourceContext,
  SESAME_CONTEXT_KEYS,
  SESAME_TAG_KEY_PREFIXES,
  tagRequestContext,
  untagRequestContext,
} from './context-keys.ts';
export { type EvaluateOptions, evaluate, type Request } from './evaluate.ts';
export { evaluatorFor, type TargetEvaluator } from './evaluator-for.ts';
export { type ParseResult, parsePolicy } from './parse-policy.ts';
export {
  POLICY_LANGUAGE_VERSIONS,
  POLICY_LIMITS,
  type Policy,
  type PolicyCondition,
  type PolicyStatement,
  type PolicyVersion,
} from './policy-types.ts';
export type { Problem } from './problems.ts';
export { type ContextInput, type ContextValue, createContext, RequestContext } from './request-context.ts';
