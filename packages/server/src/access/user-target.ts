import { type RequestContext, resourceContext } from '@sesame/policy';
import type { Principal } from '../authorize.ts';
import type { Guard } from '../guard.ts';
import type { Store, Tags, User } from '../store/index.ts';

/**
 * Judges an action on the account `username` names with that account's tags as aws:ResourceTag/<key>, as IAM judges
 * actions on a user with the user's tags: a Deny on a tag (say Protected = true, on the administrators) holds for
 * every action on those accounts. A name no account has is judged as an untagged account, so someone who may not act
 * on accounts cannot learn which exist. Resolves with the account and the tags it was judged with, or undefined.
 */
export function createUserTarget({
  store,
  guard,
  userArn,
}: {
  store: Pick<Store, 'getUserByUsername' | 'getUserTags'>;
  guard: Guard;
  userArn: (username: string) => string;
}) {
  return async (
    principal: Principal,
    action: string,
    username: string,
    request?: RequestContext,
  ): Promise<(User & { tags: Tags }) | undefined> => {
    const user = await store.getUserByUsername(username);
    const tags = user ? await store.getUserTags(user.id) : {};
    const context = resourceContext(tags);
    guard(principal, action, userArn(username), request ? context.extend(request) : context);
    // With the tags it was judged with: a change of them must be compared with these, not a later read.
    return user && { ...user, tags };
  };
}

export type UserTarget = ReturnType<typeof createUserTarget>;
