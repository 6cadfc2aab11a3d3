import { evaluate, principalContext, resourceContext } from '@sesame/policy';
import { type ArnSettings, instanceArn, serverArn } from '../arn.ts';
import type { Authorize, Principal } from '../authorize.ts';
import { SesameError } from '../errors.ts';
import type { Guard } from '../guard.ts';
import type { InventoryService } from '../services/inventory.ts';
import { onlyFields, requiredText } from '../services/validate.ts';
import type { Store } from '../store/index.ts';
import type { AccessModel } from './access-model.ts';

type Deps = {
  store: Pick<Store, 'getUserByUsername' | 'getSession'>;
  authorize: Authorize;
  model: Pick<AccessModel, 'forUser'>;
  inventory: Pick<InventoryService, 'authorizedTarget'>;
  guard: Guard;
  arn: ArnSettings;
  now?: () => Date;
};

function contextEntries(value: unknown): Record<string, string | string[]> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SesameError(
      'INVALID',
      'context must be an object of condition keys, e.g. {"aws:SourceIp":"10.0.0.1"}',
    );
  }
  const out: Record<string, string | string[]> = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'))) out[key] = v;
    else throw new SesameError('INVALID', `context.${key} must be a string or a list of strings`);
  }
  return out;
}

/**
 * The policy simulator: what would the policies say if this user asked for this action on this resource?
 * With `target`, the resource is that instance's ARN and its tags are in the context. The answer names the
 * deciding statement and, for Allow statements that matched, the conditions that failed.
 */
export function createSimulator({
  store,
  authorize,
  model,
  inventory,
  guard,
  arn,
  now = () => new Date(),
}: Deps) {
  return async (principal: Principal, input: Record<string, unknown>) => {
    const username = typeof input.username === 'string' ? input.username : '';
    guard(principal, 'sesame:SimulatePrincipalPolicy', serverArn(arn, 'user', username || '*'));
    onlyFields(input, ['username', 'action', 'resource', 'target', 'context']);
    requiredText(input, 'username', 'the user whose policies decide');
    const action = typeof input.action === 'string' ? input.action : '';
    if (!/^[A-Za-z0-9-]+:[A-Za-z0-9*?]+$/.test(action))
      throw new SesameError('INVALID', 'action must look like service:Action, e.g. ssm:StartSession');
    const user = await store.getUserByUsername(username);
    if (!user) throw new SesameError('NOT_FOUND', `no user "${username}"`);
    let resource = typeof input.resource === 'string' ? input.resource : '';
    let tags: Record<string, string> = {};
    if (typeof input.target === 'string' && input.target) {
      // Only an instance the caller may see: a name must not tell them an id (or its tags) they may not see.
      const instance = await inventory.authorizedTarget(
        principal,
        'ssm:DescribeInstanceProperties',
        input.target,
      );
      resource = instanceArn(arn, instance);
      tags = instance.tags;
    }
    if (!resource) throw new SesameError('INVALID', 'give a resource ARN (resource) or an instance (target)');
    // A session carries the tag the server judges it with (its owner's user id), as for TerminateSession; only
    // one the caller may see, or the answer would tell them which sessions exist and whose they are.
    const sessionId = /^arn:[^:]+:ssm:[^:]*:[^:]*:session\/([^/]+)$/.exec(resource)?.[1];
    const found = sessionId ? await store.getSession(sessionId) : undefined;
    const sessionTags = found && { 'aws:ssmmessages:session-id': found.ownerId };
    const session =
      sessionTags &&
      authorize(principal, 'ssm:DescribeSessions', resource, resourceContext(sessionTags)).allowed
        ? found
        : undefined;
    if (session && sessionTags) tags = sessionTags;
    const access = model.forUser(user.id);
    if (!access)
      return {
        action,
        resource,
        user: { username, disabled: true },
        decision: { allowed: false, effect: 'ImplicitDeny', reason: `${username} is disabled` },
      };
    // Every Sesame sign-in proves a second factor, so a request is judged as one just after MFA, as the server
    // judges a fresh sign-in; `context` may say otherwise (aws:MultiFactorAuthAge, aws:SourceIp, …).
    const at = now();
    const context = principalContext({
      username,
      userId: user.id,
      tags: access.tags,
      mfaAuthenticatedAt: at,
      now: at,
    })
      .extend(resourceContext(tags))
      .extend(contextEntries(input.context));
    const decision = evaluate(access.policies, { action, resource, context }, { explain: true });
    return {
      action,
      resource,
      assumed: [
        'signed in with MFA just now (aws:MultiFactorAuthPresent true, aws:MultiFactorAuthAge 0): every sign-in asks for it',
        ...(input.context && Object.keys(contextEntries(input.context)).some((k) => /^aws:sourceip$/i.test(k))
          ? []
          : ['no source address (aws:SourceIp absent): give one in context to judge a network condition']),
        ...(session
          ? [`the session's tag aws:ssmmessages:session-id = ${session.ownerId} (its owner's user id)`]
          : []),
      ],
      user: {
        username,
        groups: access.groups,
        tags: access.tags,
        permissionSets: access.permissionSets.map((p) => p.name),
      },
      decision,
    };
  };
}
