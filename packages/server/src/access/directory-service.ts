import { randomUUID } from 'node:crypto';
import { type RequestContext, resourceContext, tagRequestContext, untagRequestContext } from '@sesame/policy';
import { type ArnSettings, serverArn } from '../arn.ts';
import type { Audit } from '../audit.ts';
import type { Principal } from '../authorize.ts';
import { SesameError } from '../errors.ts';
import type { Guard } from '../guard.ts';
import {
  applyTagChange,
  description,
  droppedTagKeys,
  onlyFields,
  parseTagChange,
  parseTags,
  requiredText,
  whileTagsHold,
} from '../services/validate.ts';
import type { Group, Store, Tags, User } from '../store/index.ts';
import { accessChanged } from './access-change.ts';
import type { AccessModel } from './access-model.ts';
import { checkName } from './policy-document.ts';
import { createUserTarget } from './user-target.ts';

type Deps = {
  store: Pick<
    Store,
    | 'createGroup'
    | 'getGroupByName'
    | 'listGroups'
    | 'deleteGroup'
    | 'addGroupMember'
    | 'removeGroupMember'
    | 'listGroupMembers'
    | 'getUserByUsername'
    | 'setUserTags'
    | 'getUserTags'
  >;
  guard: Guard;
  audit: Audit;
  model: Pick<AccessModel, 'reload'>;
  arn: ArnSettings;
  now?: () => number;
};

/** Groups, group membership and users' principal tags: the directory side of access. */
export function createDirectoryService({ store, guard, audit, model, arn, now = Date.now }: Deps) {
  const groupArn = (name: string) => serverArn(arn, 'group', name);
  const userArn = (name: string) => serverArn(arn, 'user', name);

  async function group(name: string): Promise<Group> {
    const found = await store.getGroupByName(name);
    if (!found) throw new SesameError('NOT_FOUND', `no group "${name}": run \`sesame admin groups list\``);
    return found;
  }
  /** A group member's account (membership is judged on the group, as AWS's AddUserToGroup is). */
  async function member(name: string): Promise<User> {
    const found = await store.getUserByUsername(name);
    if (!found) throw new SesameError('NOT_FOUND', `no user "${name}": run \`sesame admin users list\``);
    return found;
  }
  const target = createUserTarget({ store, guard, userArn });
  /** The account, once `principal` may do `action` on it (judged with its tags, and `request`). */
  async function user(
    principal: Principal,
    action: string,
    name: string,
    request?: RequestContext,
  ): Promise<User & { tags: Tags }> {
    const found = await target(principal, action, name, request);
    if (!found) throw new SesameError('NOT_FOUND', `no user "${name}": run \`sesame admin users list\``);
    return found;
  }
  const changed = accessChanged({ model, audit });

  return {
    async createGroup(principal: Principal, input: Record<string, unknown>): Promise<Group> {
      const name = checkName(input.name, 'group');
      guard(principal, 'sesame:CreateGroup', groupArn(name));
      onlyFields(input, ['name', 'description']);
      const created: Group = {
        id: randomUUID(),
        name,
        description: description(input.description) ?? '',
        createdAt: now(),
      };
      await store.createGroup(created);
      await changed(principal, 'sesame:CreateGroup', groupArn(name));
      return created;
    },

    async listGroups(principal: Principal): Promise<(Group & { members: string[] })[]> {
      guard(principal, 'sesame:ListGroups', groupArn('*'));
      const groups = await store.listGroups();
      return Promise.all(
        groups.map(async (g) => ({
          ...g,
          members: (await store.listGroupMembers(g.id)).map((u) => u.username),
        })),
      );
    },

    async deleteGroup(principal: Principal, name: string): Promise<void> {
      guard(principal, 'sesame:DeleteGroup', groupArn(name));
      await store.deleteGroup((await group(name)).id);
      await changed(principal, 'sesame:DeleteGroup', groupArn(name));
    },

    async addMember(principal: Principal, groupName: string, input: Record<string, unknown>): Promise<void> {
      guard(principal, 'sesame:AddUserToGroup', groupArn(groupName));
      onlyFields(input, ['username']);
      const added = await member(requiredText(input, 'username', 'the user to add'));
      await store.addGroupMember((await group(groupName)).id, added.id);
      await changed(principal, 'sesame:AddUserToGroup', groupArn(groupName), { user: added.username });
    },

    async removeMember(principal: Principal, groupName: string, username: string): Promise<void> {
      guard(principal, 'sesame:RemoveUserFromGroup', groupArn(groupName));
      const removed = await member(username);
      if (!(await store.removeGroupMember((await group(groupName)).id, removed.id))) {
        throw new SesameError('NOT_FOUND', `${username} is not a member of ${groupName}`);
      }
      await changed(principal, 'sesame:RemoveUserFromGroup', groupArn(groupName), { user: username });
    },

    /**
     * Principal tags (AWS: aws:PrincipalTag/<key>); replaces the user's tags. As IAM's TagUser and UntagUser:
     * sesame:TagUser is judged with the tags set (aws:RequestTag/*, aws:TagKeys), and the keys dropped are
     * removed only with sesame:UntagUser on them (aws:TagKeys). These tags decide access (ABAC): a Deny on a
     * key must hold for setting it and for deleting it.
     */
    async setUserTags(principal: Principal, username: string, input: unknown): Promise<Tags> {
      if (input === undefined || input === null)
        throw new SesameError(
          'INVALID',
          'the body must be the user\'s tags, e.g. {"team":"web"} ({} removes them all)',
        );
      const tags = parseTags(input);
      const removed = await whileTagsHold(async () => {
        const { id, tags: current } = await user(
          principal,
          'sesame:TagUser',
          username,
          tagRequestContext(tags),
        );
        const removed = droppedTagKeys(current, tags);
        if (removed.length > 0)
          guard(
            principal,
            'sesame:UntagUser',
            userArn(username),
            resourceContext(current).extend(untagRequestContext(removed)),
          );
        return (await store.setUserTags(id, tags, current)) ? removed : undefined;
      });
      await changed(principal, 'sesame:TagUser', userArn(username), {
        tags,
        ...(removed.length > 0 ? { removed } : {}),
      });
      return tags;
    },

    /**
     * Adds (or changes) the tags in `add` and removes the keys in `remove`, leaving the user's other tags: each part
     * judged as its own action (sesame:TagUser, sesame:UntagUser) with only its own keys, as IAM's TagUser and
     * UntagUser are.
     */
    async changeUserTags(principal: Principal, username: string, input: unknown): Promise<Tags> {
      const { add, remove } = parseTagChange(input);
      const adding = Object.keys(add).length > 0;
      const { tags, removed } = await whileTagsHold(async () => {
        const { id, tags: current } = adding
          ? await user(principal, 'sesame:TagUser', username, tagRequestContext(add))
          : await user(principal, 'sesame:UntagUser', username, untagRequestContext(remove));
        if (adding && remove.length > 0)
          guard(
            principal,
            'sesame:UntagUser',
            userArn(username),
            resourceContext(current).extend(untagRequestContext(remove)),
          );
        const change = applyTagChange(current, { add, remove });
        return (await store.setUserTags(id, change.tags, current)) ? change : undefined;
      });
      // Audited as the actions it was judged as, each findable by its own.
      if (adding) await changed(principal, 'sesame:TagUser', userArn(username), { tags: add });
      if (remove.length > 0) await changed(principal, 'sesame:UntagUser', userArn(username), { removed });
      return tags;
    },

    async getUserTags(principal: Principal, username: string): Promise<Tags> {
      return store.getUserTags((await user(principal, 'sesame:GetUser', username)).id);
    },
  };
}

export type DirectoryService = ReturnType<typeof createDirectoryService>;
