import { type RequestContext, tagRequestContext, untagRequestContext } from '@sesame/policy';
import { type ArnSettings, instanceArn, instanceIdArn } from '../arn.ts';
import type { Audit } from '../audit.ts';
import type { Authorize, AuthorizeTargets, Principal } from '../authorize.ts';
import { SesameError } from '../errors.ts';
import type { Guard } from '../guard.ts';
import type { Instance, Store } from '../store/index.ts';
import { type InstanceCatalog, instanceContext } from './instance-catalog.ts';
import { compareKeys, type SortKey } from './pagination.ts';
import { applyTagChange, droppedTagKeys, parseTagChange, parseTags, whileTagsHold } from './validate.ts';

type Deps = {
  store: Pick<
    Store,
    'getInstance' | 'findInstancesByName' | 'listInstances' | 'setInstanceTags' | 'deleteInstance'
  >;
  authorize: Authorize;
  targets: AuthorizeTargets;
  catalog: Pick<InstanceCatalog, 'all' | 'refresh'>;
  guard: Guard;
  audit: Audit;
  arn: ArnSettings;
  isOnline: (instanceId: string) => boolean;
  /** When this server last heard from the instance's agent (now while connected), if it has this run. */
  lastSeen: (instanceId: string) => number | undefined;
  /** Drops the live agent connection of a deregistered instance. */
  disconnect: (instanceId: string) => void;
};

export type PublicInstance = Omit<Instance, 'publicKey'> & { arn: string };

export const INSTANCE_ID = /^m?i-[0-9a-f]{17}$/;

/** The order of instance listings (the catalog's): name, then id. */
export const instanceSortKey = (instance: Pick<Instance, 'name' | 'id'>): SortKey => [
  instance.name,
  instance.id,
];

export function createInventoryService({
  store,
  authorize,
  targets,
  catalog,
  guard,
  audit,
  arn,
  isOnline,
  lastSeen,
  disconnect,
}: Deps) {
  const toPublic = (instance: Instance): PublicInstance => {
    const { publicKey: _key, ...rest } = instance;
    // The hub knows who is connected right now and when each agent went; the catalog's copy is from its last
    // refresh (a registration, new tags or inventory), and the stored status can lag by a heartbeat.
    return {
      ...rest,
      lastSeenAt: lastSeen(instance.id) ?? rest.lastSeenAt,
      status: isOnline(instance.id) ? 'Online' : 'ConnectionLost',
      arn: instanceArn(arn, instance),
    };
  };

  /** The instances `target` names: the one with that id, else all with that name. */
  const candidates = async (target: string): Promise<Instance[]> => {
    // No control characters: no id or name has one (and a NUL would be PostgreSQL's error, not a 400).
    if (typeof target !== 'string' || target.length === 0 || target.length > 255 || /\p{Cc}/u.test(target)) {
      throw new SesameError('INVALID', 'target must be an instance id (i-… or mi-…) or an instance name');
    }
    if (INSTANCE_ID.test(target)) {
      const instance = await store.getInstance(target);
      if (instance) return [instance];
    }
    return store.findInstancesByName(target);
  };

  const only = (target: string, found: Instance[]): Instance => {
    if (found.length === 1 && found[0]) return found[0];
    if (found.length > 1) {
      throw new SesameError(
        'CONFLICT',
        `${found.length} instances are named "${target}" (${found.map((i) => i.id).join(', ')}): use the instance id`,
      );
    }
    throw new SesameError(
      'NOT_FOUND',
      `no instance "${target}": run \`sesame instances\` to see the instances you can reach`,
    );
  };

  /**
   * Stores the instance's new tags, if its tags are still those it was judged with (else undefined), and audits
   * the change as AWS actions: ssm:AddTagsToResource for the tags set (when any) and ssm:RemoveTagsFromResource
   * for the keys dropped (when any), each findable by its action; then answers with the instance as `principal`
   * may see it.
   */
  const saveTags = async (
    principal: Principal,
    instance: Instance,
    tags: Instance['tags'],
    change: { set?: Instance['tags']; removed: string[] },
  ): Promise<PublicInstance | Pick<PublicInstance, 'id' | 'arn' | 'tags'> | undefined> => {
    if (!(await store.setInstanceTags(instance.id, tags, instance.tags))) return undefined;
    await catalog.refresh(instance.id);
    const resource = instanceArn(arn, instance);
    const done = (action: string, detail: Record<string, unknown>) =>
      audit({ actor: principal, action, resource, outcome: 'succeeded', detail });
    const setting = change.set !== undefined && Object.keys(change.set).length > 0;
    if (setting) await done('ssm:AddTagsToResource', { tags: change.set });
    if (change.removed.length > 0) await done('ssm:RemoveTagsFromResource', { removed: change.removed });
    // A change that changed nothing (no tags to set, none there to remove) is on record too.
    if (!setting && change.removed.length === 0)
      await done(change.set ? 'ssm:AddTagsToResource' : 'ssm:RemoveTagsFromResource', {
        tags: {},
        removed: [],
      });
    // The change is made: the answer must not say otherwise. Someone who may tag but not describe the instance
    // gets back what they set, not the instance's other details.
    const updated = (await store.getInstance(instance.id)) ?? { ...instance, tags };
    const updatedArn = instanceArn(arn, updated);
    return authorize(principal, 'ssm:DescribeInstanceProperties', updatedArn, instanceContext(updated.tags))
      .allowed
      ? toPublic(updated)
      : { id: updated.id, arn: updatedArn, tags: updated.tags };
  };

  return {
    /**
     * The instances this principal could start a session on, by name then id (instanceSortKey): all of them,
     * or the first `limit` after the key `after`.
     */
    async list(
      principal: Principal,
      { after, limit = Number.POSITIVE_INFINITY }: { after?: SortKey | undefined; limit?: number } = {},
    ): Promise<PublicInstance[]> {
      // Either listing permission will do, as in AWS: the SSM console asks one, the EC2 console the other.
      if (!authorize(principal, 'ec2:DescribeInstances', '*').allowed)
        guard(principal, 'ssm:DescribeInstanceProperties', '*');
      const mayStart = targets(principal, 'ssm:StartSession');
      const reachable: PublicInstance[] = [];
      for (const entry of await catalog.all()) {
        if (reachable.length >= limit) break;
        if (after && compareKeys(instanceSortKey(entry.instance), after) <= 0) continue;
        if (mayStart(entry.arn, entry.context).allowed) reachable.push(toPublic(entry.instance));
      }
      return reachable;
    },

    /**
     * The instance `target` names, once `principal` may do `action` on it, judged with its tags (a Deny on
     * `aws:ResourceTag/project` = Production holds for every action). A target that names no instance they
     * can see is judged first as an untagged instance (by its id, or `instance/*` for a name), so that someone
     * who may not act on instances cannot learn which names and ids exist.
     */
    async authorizedTarget(
      principal: Principal,
      action: string,
      target: string,
      request?: RequestContext,
    ): Promise<Instance> {
      const judged = (tags: Instance['tags']) =>
        request ? instanceContext(tags).extend(request) : instanceContext(tags);
      let found = await candidates(target);
      // A name is looked up among the instances this person can see: those they may describe, or act on with
      // this action (a shell user sees what `sesame instances` lists). So a name tells no one an id they
      // may not see, and of a name several instances share, an action never lands on another instance than
      // the ones they can look up by it: several seen is a CONFLICT. An id is taken as given.
      const byId = found.length === 1 && found[0]?.id === target;
      if (!byId) {
        const sees = (i: Instance) =>
          authorize(principal, 'ssm:DescribeInstanceProperties', instanceArn(arn, i), instanceContext(i.tags))
            .allowed || authorize(principal, action, instanceArn(arn, i), judged(i.tags)).allowed;
        found = found.filter(sees);
      }
      if (found.length === 0) {
        const unknown = INSTANCE_ID.test(target)
          ? instanceIdArn(arn, target)
          : instanceArn(arn, { id: '*', kind: 'ec2' });
        // Someone who may look up any instance, whatever its tags, learns nothing from "no such instance" that
        // `sesame instances` would not tell them: a mistyped name is then not found, not forbidden.
        // (Only the permission `sees` counts: with ec2:DescribeInstances alone, which shows no instance here,
        // "not found" for unknown names but "forbidden" for real ones would tell which exist.)
        if (!authorize(principal, 'ssm:DescribeInstanceProperties', unknown, instanceContext({})).allowed)
          guard(principal, action, unknown, judged({}), { target });
      }
      const instance = only(target, found);
      guard(principal, action, instanceArn(arn, instance), judged(instance.tags));
      return instance;
    },

    async get(principal: Principal, target: string): Promise<PublicInstance> {
      return toPublic(await this.authorizedTarget(principal, 'ssm:DescribeInstanceProperties', target));
    },

    /**
     * Replaces the instance's tags with `input` ({} removes them all). The request's tags are in the context
     * (aws:RequestTag/*, aws:TagKeys) of ssm:AddTagsToResource, as AWS gives them for tagging; the keys it drops
     * are removed only with ssm:RemoveTagsFromResource on them (aws:TagKeys), as in AWS: a policy that keeps
     * someone from changing a tag (a Deny on its key) must keep them from deleting it too.
     */
    async setTags(
      principal: Principal,
      target: string,
      input: unknown,
    ): Promise<PublicInstance | Pick<PublicInstance, 'id' | 'arn' | 'tags'>> {
      if (input === undefined || input === null)
        throw new SesameError(
          'INVALID',
          'the body must be the instance\'s tags, e.g. {"project":"Production"} ({} removes them all)',
        );
      const tags = parseTags(input);
      return whileTagsHold(async () => {
        const instance = await this.authorizedTarget(
          principal,
          'ssm:AddTagsToResource',
          target,
          tagRequestContext(tags),
        );
        const removed = droppedTagKeys(instance.tags, tags);
        if (removed.length > 0)
          guard(
            principal,
            'ssm:RemoveTagsFromResource',
            instanceArn(arn, instance),
            instanceContext(instance.tags).extend(untagRequestContext(removed)),
          );
        return saveTags(principal, instance, tags, { set: tags, removed });
      });
    },

    /**
     * Adds (or changes) the tags in `add` and removes the keys in `remove`, leaving every other tag as it is: what
     * `aws ssm add-tags-to-resource` and `remove-tags-from-resource` do. Each part is judged as that AWS action,
     * with only its own keys in aws:TagKeys.
     */
    async changeTags(
      principal: Principal,
      target: string,
      input: unknown,
    ): Promise<PublicInstance | Pick<PublicInstance, 'id' | 'arn' | 'tags'>> {
      const { add, remove } = parseTagChange(input);
      const adding = Object.keys(add).length > 0;
      return whileTagsHold(async () => {
        const instance = await this.authorizedTarget(
          principal,
          adding ? 'ssm:AddTagsToResource' : 'ssm:RemoveTagsFromResource',
          target,
          adding ? tagRequestContext(add) : untagRequestContext(remove),
        );
        if (adding && remove.length > 0)
          guard(
            principal,
            'ssm:RemoveTagsFromResource',
            instanceArn(arn, instance),
            instanceContext(instance.tags).extend(untagRequestContext(remove)),
          );
        const { tags, removed } = applyTagChange(instance.tags, { add, remove });
        return saveTags(principal, instance, tags, { ...(adding ? { set: add } : {}), removed });
      });
    },

    async remove(principal: Principal, target: string): Promise<void> {
      const instance = await this.authorizedTarget(principal, 'ssm:DeregisterManagedInstance', target);
      await store.deleteInstance(instance.id);
      await catalog.refresh(instance.id);
      disconnect(instance.id);
      await audit({
        actor: principal,
        action: 'ssm:DeregisterManagedInstance',
        resource: instanceArn(arn, instance),
        outcome: 'succeeded',
      });
    },
  };
}

export type InventoryService = ReturnType<typeof createInventoryService>;
