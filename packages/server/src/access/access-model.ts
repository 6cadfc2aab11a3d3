import { type CompiledPolicySet, compilePolicies, type Policy, parsePolicy } from '@sesame/policy';
import type { Logger } from '../log.ts';
import type { AccessSnapshot, PermissionSet, Store, Tags } from '../store/index.ts';

type Deps = { store: Pick<Store, 'loadAccessSnapshot'>; log: Logger };

const DENY_EVERYTHING = (() => {
  const result = parsePolicy(
    JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: '*', Resource: '*' }] }),
  );
  if (!result.ok) throw new Error('the deny-everything policy does not parse');
  return result.policy;
})();

export type UserAccess = {
  userId: string;
  username: string;
  tags: Tags;
  groups: string[];
  permissionSets: PermissionSet[];
  policies: CompiledPolicySet;
};

/**
 * Everything authorization needs, in memory: users' tags and groups, and the policies each user holds
 * through the permission sets assigned to them or their groups. Loaded in one go and swapped whole after
 * every change, so a decision never sees half an update. Users' compiled policy sets are built on first use.
 */
export function createAccessModel({ store, log }: Deps) {
  let snapshot: AccessSnapshot | undefined;
  let parsed = new Map<string, Policy>();
  let users = new Map<string, UserAccess | null>();

  /**
   * A stored document that no longer parses (it was valid when saved: a stricter release, a restored or edited
   * database) is logged and stands for a Deny of everything: it may have held Deny statements, and dropping it
   * would let the Allows it sat beside grant what it denied.
   */
  function parse(id: string, document: string): Policy {
    const result = parsePolicy(document);
    if (result.ok) return result.policy;
    log.error(
      { policy: id, errors: result.errors },
      'a stored policy does not parse; everyone who holds it is denied everything until it is fixed',
    );
    return DENY_EVERYTHING;
  }

  function build(current: AccessSnapshot, userId: string): UserAccess | null {
    const user = current.users.find((u) => u.id === userId);
    if (!user || user.disabled) return null;
    const groupIds = new Set(current.memberships.filter((m) => m.userId === userId).map((m) => m.groupId));
    const setIds = new Set(
      current.assignments
        .filter((a) => (a.principalType === 'user' ? a.principalId === userId : groupIds.has(a.principalId)))
        .map((a) => a.permissionSetId),
    );
    const permissionSets = current.permissionSets.filter((p) => setIds.has(p.id));
    const sources: { id: string; policy: Policy }[] = [];
    for (const set of permissionSets) {
      const inline = set.inlinePolicy === null ? undefined : parsed.get(`inline:${set.id}`);
      if (inline) sources.push({ id: `${set.name}/inline`, policy: inline });
      for (const policyId of set.policyIds) {
        const policy = parsed.get(policyId);
        const name = current.policies.find((p) => p.id === policyId)?.name ?? policyId;
        if (policy) sources.push({ id: `${set.name}/${name}`, policy });
      }
    }
    return {
      userId,
      username: user.username,
      tags: user.tags,
      groups: current.groups.filter((g) => groupIds.has(g.id)).map((g) => g.name),
      permissionSets,
      policies: compilePolicies(sources, {
        onError: (error, request) =>
          log.error({ err: error, request, user: user.username }, 'policy evaluation failed (denied)'),
      }),
    };
  }

  return {
    /** Loads everything again; call after every change to users, groups, policies or assignments. */
    async reload(): Promise<void> {
      const next = await store.loadAccessSnapshot();
      const nextParsed = new Map<string, Policy>();
      for (const policy of next.policies) nextParsed.set(policy.id, parse(policy.name, policy.document));
      for (const set of next.permissionSets) {
        if (set.inlinePolicy !== null)
          nextParsed.set(`inline:${set.id}`, parse(`${set.name}/inline`, set.inlinePolicy));
      }
      snapshot = next;
      parsed = nextParsed;
      users = new Map();
    },

    /** The user's access, or undefined for an unknown or disabled user (who may do nothing). */
    forUser(userId: string): UserAccess | undefined {
      if (!snapshot) return undefined;
      let access = users.get(userId);
      if (access === undefined) {
        access = build(snapshot, userId);
        users.set(userId, access);
      }
      return access ?? undefined;
    },

    get snapshot(): AccessSnapshot | undefined {
      return snapshot;
    },
  };
}

export type AccessModel = ReturnType<typeof createAccessModel>;
