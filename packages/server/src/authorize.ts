import {
  type ContextInput,
  evaluate,
  evaluatorFor,
  principalContext,
  type RequestContext,
  type StatementRef,
} from '@sesame/policy';
import type { AccessModel } from './access/access-model.ts';

/** Who is asking. `system` is the server itself (first start, the local agent); it never comes from the API. */
export type Principal = {
  userId: string;
  username: string;
  sourceAddress: string | null;
  system?: true;
  /** When this sign-in last proved a second factor (epoch ms): aws:MultiFactorAuthPresent and …Age. */
  mfaAt?: number | null;
  /** The sign-in session the request came with (absent for the server itself). */
  signInSessionId?: string;
};

/** The target's side of a request: its tags (resourceContext) and the session document. */
export type AuthzContext = ContextInput | RequestContext;
export type Decision = { allowed: boolean; reason: string; decidedBy?: StatementRef | undefined };
export type Authorize = (
  principal: Principal,
  action: string,
  resource: string,
  context?: AuthzContext,
) => Decision;
/** For listings: one principal and action, many targets; same decisions as authorize(). */
export type AuthorizeTargets = (
  principal: Principal,
  action: string,
) => (resource: string, context?: AuthzContext) => Decision;

const SYSTEM: Decision = { allowed: true, reason: 'the server itself' };
const unknownUser = (username: string): Decision => ({
  allowed: false,
  reason: `${username} has no access (unknown or disabled user)`,
});

/**
 * The single authorization entry point: the user's policies (from the permission sets assigned to them and
 * their groups) decide, as AWS evaluates identity policies: explicit Deny, then Allow, else deny by default.
 */
export function createAuthorizer({
  model,
  now = () => new Date(),
}: {
  model: Pick<AccessModel, 'forUser'>;
  now?: () => Date;
}) {
  const principalFacts = (principal: Principal) => {
    const access = model.forUser(principal.userId);
    if (!access) return undefined;
    const context = principalContext({
      username: access.username,
      userId: access.userId,
      tags: access.tags,
      ...(principal.sourceAddress ? { sourceIp: principal.sourceAddress } : {}),
      ...(principal.mfaAt ? { mfaAuthenticatedAt: new Date(principal.mfaAt) } : {}),
      now: now(),
    });
    return { access, context };
  };

  const authorize: Authorize = (principal, action, resource, context) => {
    if (principal.system) return SYSTEM;
    const facts = principalFacts(principal);
    if (!facts) return unknownUser(principal.username);
    const request = { action, resource, context: context ? facts.context.extend(context) : facts.context };
    const decision = evaluate(facts.access.policies, request);
    return { allowed: decision.allowed, reason: decision.reason, decidedBy: decision.decidedBy };
  };

  const targets: AuthorizeTargets = (principal, action) => {
    if (principal.system) return () => SYSTEM;
    const facts = principalFacts(principal);
    if (!facts) return () => unknownUser(principal.username);
    const decide = evaluatorFor(facts.access.policies, action, facts.context);
    // The policy engine's decision as it is: its implicit-deny reason is worked out only if someone reads
    // it, and a listing of 100,000 instances reads none.
    return (resource, context) => decide(resource, context);
  };

  return { authorize, targets };
}
