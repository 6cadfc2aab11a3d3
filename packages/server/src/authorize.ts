/**
 * The single authorization entry point. Every service method calls it first. Until the policy engine lands
 * (issue 3) the decision is a fixed rule set: administrators may do anything; other users may describe and
 * terminate their own sessions (`session/<username>-*`); everything else is denied by default.
 */
export type Principal = {
  userId: string;
  username: string;
  isAdmin: boolean;
  sourceAddress: string | null;
};

export type AuthzContext = Record<string, string | string[] | undefined>;
export type Decision = { allowed: boolean; reason: string };
export type Authorize = (
  principal: Principal,
  action: string,
  resource: string,
  context?: AuthzContext,
) => Decision;

const OWN_SESSION_ACTIONS = new Set(['ssm:TerminateSession', 'ssm:ResumeSession', 'ssm:DescribeSessions']);

export function createAuthorizer(): Authorize {
  return (principal, action, resource) => {
    if (principal.isAdmin) return { allowed: true, reason: 'administrator' };
    const ownSession = resource.endsWith(`:session/${principal.username}-${resource.slice(-17)}`);
    if (OWN_SESSION_ACTIONS.has(action) && ownSession) return { allowed: true, reason: 'own session' };
    return { allowed: false, reason: `no rule allows ${action} on ${resource} (denied by default)` };
  };
}
