import { normalizeContextKey } from './context-key.ts';
import { type ContextInput, RequestContext } from './request-context.ts';

/** The condition keys Sesame supplies (single-valued but aws:TagKeys). Other keys are absent from every request. */
export const SESAME_CONTEXT_KEYS = {
  username: 'aws:username',
  userId: 'aws:userid',
  principalType: 'aws:PrincipalType',
  currentTime: 'aws:CurrentTime',
  epochTime: 'aws:EpochTime',
  sourceIp: 'aws:SourceIp',
  mfaPresent: 'aws:MultiFactorAuthPresent',
  mfaAge: 'aws:MultiFactorAuthAge',
  /** Sesame's own key: the session document (AWS-StartSSHSession, SSM-SessionManagerRunShell, …). */
  sessionDocumentName: 'sesame:SessionDocumentName',
  /** The tag keys a tagging request sets (multi-valued, for ForAnyValue/ForAllValues). */
  tagKeys: 'aws:TagKeys',
} as const;

/** Tag keys: the principal's tags, and the target's tags under both spellings AWS uses for SSM. */
export const SESAME_TAG_KEY_PREFIXES = {
  principalTag: 'aws:PrincipalTag/',
  resourceTag: 'aws:ResourceTag/',
  ssmResourceTag: 'ssm:resourceTag/',
  /** The tags a tagging request sets. */
  requestTag: 'aws:RequestTag/',
} as const;

const SUPPLIED = new Set<string>(Object.values(SESAME_CONTEXT_KEYS).map(normalizeContextKey));
/** The supplied keys that may hold several values in one request (AWS: they need ForAnyValue or ForAllValues). */
const MULTIVALUED = new Set<string>([normalizeContextKey(SESAME_CONTEXT_KEYS.tagKeys)]);

/** Is this (any spelling) a key that may hold several values in one request? */
export function isMultivaluedKey(key: string): boolean {
  return MULTIVALUED.has(normalizeContextKey(key));
}
const PREFIXES = Object.values(SESAME_TAG_KEY_PREFIXES).map(normalizeContextKey);

/** Does Sesame ever supply this key? (Any spelling; `aws:PrincipalTag/` needs a tag name after the slash.) */
export function isSuppliedKey(key: string): boolean {
  const normalized = normalizeContextKey(key);
  return (
    SUPPLIED.has(normalized) || PREFIXES.some((p) => normalized.startsWith(p) && normalized.length > p.length)
  );
}

export type PrincipalFacts = {
  username: string;
  userId: string;
  /** AWS spells these User, AssumedRole, FederatedUser, …; Sesame users default to "User". */
  principalType?: string;
  /** Principal tags (from the directory, SAML attributes, …): `{ AppGroupName: 'webserver' }`. */
  tags?: Readonly<Record<string, string>>;
  sourceIp?: string;
  /** When the user last passed MFA in this sign-in; absent → MultiFactorAuthPresent "false". */
  mfaAuthenticatedAt?: Date;
  now?: Date;
};

/**
 * The principal half of a request context: username, user id, principal tags, time, source address, MFA.
 * Build it once per request (or per listing) and `extend()` it with each target's resourceContext().
 */
export function principalContext(facts: PrincipalFacts): RequestContext {
  const now = facts.now ?? new Date();
  const values: Record<string, string> = {
    [SESAME_CONTEXT_KEYS.username]: facts.username,
    [SESAME_CONTEXT_KEYS.userId]: facts.userId,
    [SESAME_CONTEXT_KEYS.principalType]: facts.principalType ?? 'User',
    [SESAME_CONTEXT_KEYS.currentTime]: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    [SESAME_CONTEXT_KEYS.epochTime]: String(Math.floor(now.getTime() / 1000)),
    [SESAME_CONTEXT_KEYS.mfaPresent]: facts.mfaAuthenticatedAt ? 'true' : 'false',
  };
  if (facts.mfaAuthenticatedAt) {
    const age = Math.max(0, Math.floor((now.getTime() - facts.mfaAuthenticatedAt.getTime()) / 1000));
    values[SESAME_CONTEXT_KEYS.mfaAge] = String(age);
  }
  if (facts.sourceIp) values[SESAME_CONTEXT_KEYS.sourceIp] = facts.sourceIp;
  for (const [tag, value] of Object.entries(facts.tags ?? {})) {
    values[SESAME_TAG_KEY_PREFIXES.principalTag + tag] = value;
  }
  return RequestContext.from(values);
}

/**
 * The target half: the instance's (or session's) tags as `aws:ResourceTag/<tag>` — which policies may also
 * spell `ssm:resourceTag/<tag>` — plus the session document when one is being started. Build it once per
 * instance when its tags change; it is immutable and can be shared by every user's evaluation.
 */
export function resourceContext(
  tags: Readonly<Record<string, string>>,
  extra: { sessionDocumentName?: string } = {},
): RequestContext {
  const values: Record<string, string> = {};
  for (const [tag, value] of Object.entries(tags)) values[SESAME_TAG_KEY_PREFIXES.resourceTag + tag] = value;
  if (extra.sessionDocumentName) values[SESAME_CONTEXT_KEYS.sessionDocumentName] = extra.sessionDocumentName;
  return RequestContext.from(values as ContextInput);
}

/**
 * What a tagging request (ssm:AddTagsToResource) adds to the context: `aws:RequestTag/<key>` for each tag it sets
 * and `aws:TagKeys`, their keys, so policies can limit which tags may be set (a Deny on `aws:TagKeys` holding
 * APP_GROUP_NAME keeps the ABAC tags out of reach of whoever may tag).
 */
export function tagRequestContext(tags: Readonly<Record<string, string>>): RequestContext {
  const values: Record<string, string | string[]> = { [SESAME_CONTEXT_KEYS.tagKeys]: Object.keys(tags) };
  for (const [tag, value] of Object.entries(tags)) values[SESAME_TAG_KEY_PREFIXES.requestTag + tag] = value;
  return RequestContext.from(values as ContextInput);
}

/**
 * What an untagging request (ssm:RemoveTagsFromResource, sesame:UntagUser) adds to the context: `aws:TagKeys`,
 * the keys it removes, so a Deny on a key holds for deleting that tag as for setting it.
 */
export function untagRequestContext(keys: readonly string[]): RequestContext {
  return RequestContext.from({ [SESAME_CONTEXT_KEYS.tagKeys]: [...keys] } as ContextInput);
}
