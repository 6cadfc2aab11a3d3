import type { Audit } from './audit.ts';
import type { Authorize, AuthzContext, Principal } from './authorize.ts';
import { SesameError } from './errors.ts';

export type Guard = (
  principal: Principal,
  action: string,
  resource: string,
  context?: AuthzContext,
  /** What the request named, for the audit trail when the resource cannot say it (a name that matched nothing). */
  detail?: Record<string, unknown>,
) => void;

/** authorize() for service methods: a deny is audited and becomes a FORBIDDEN error naming action and resource. */
export function createGuard({ authorize, audit }: { authorize: Authorize; audit: Audit }): Guard {
  return (principal, action, resource, context, detail) => {
    const decision = authorize(principal, action, resource, context);
    if (decision.allowed) return;
    void audit({
      actor: principal,
      action,
      resource,
      outcome: 'denied',
      detail: { ...detail, reason: decision.reason },
    });
    throw new SesameError('FORBIDDEN', `you are not allowed to ${action} on ${resource}`);
  };
}
