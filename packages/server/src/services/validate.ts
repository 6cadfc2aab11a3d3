import { SesameError } from '../errors.ts';
import type { Tags } from '../store/index.ts';

const TAG_KEY = /^[\p{L}\p{N} _.:/=+\-@]{1,128}$/u;
const TAG_VALUE = /^[\p{L}\p{N} _.:/=+\-@]{0,256}$/u;
export const MAX_TAGS = 50;
/** Sesame user names: they appear in session ids and in ${aws:username}. */
export const USERNAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** An address mail can be sent to, without the characters that would let it name more than one. */
export const EMAIL = /^[^\s@<>()",;:]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,63}$/;

/**
 * Refuses fields of `input` other than `known`: a misspelt field ("emial") must be an error, not an account
 * created without what was meant.
 */
export function onlyFields(input: Record<string, unknown>, known: readonly string[]): void {
  const unknown = Object.keys(input).filter((key) => !known.includes(key));
  if (unknown.length === 0) return;
  throw new SesameError(
    'INVALID',
    `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k.slice(0, 64))).join(', ')}: this request takes ${known.map((k) => `"${k}"`).join(', ')}`,
  );
}

/** `input[field]`, which must be a non-empty string: a 400 naming the field when it is missing or not one. */
export function requiredText(input: Record<string, unknown>, field: string, what: string): string {
  const value = input[field];
  if (typeof value === 'string' && value.length > 0) return value;
  throw new SesameError(
    'INVALID',
    value === undefined || value === ''
      ? `${field} is required: ${what}`
      : `${field} must be a string: ${what} (got ${typeof value === 'object' ? (Array.isArray(value) ? 'a list' : 'an object') : JSON.stringify(value)})`,
  );
}

const MAX_DESCRIPTION = 1024;

/** A description as given (undefined when absent): a string of at most 1024 characters, or a 400. */
export function description(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length > MAX_DESCRIPTION)
    throw new SesameError('INVALID', `description must be a string of at most ${MAX_DESCRIPTION} characters`);
  return value;
}

/** Refuses an update that names something else (renaming is not supported) or changes nothing. */
export function checkUpdate(
  input: Record<string, unknown>,
  name: string,
  changeable: readonly string[],
): void {
  if (input.name !== undefined && input.name !== name)
    throw new SesameError(
      'INVALID',
      `name cannot be changed (${JSON.stringify(name)}): create a new one instead`,
    );
  if (!changeable.some((field) => input[field] !== undefined))
    throw new SesameError(
      'INVALID',
      `nothing to change: give ${changeable.map((f) => `"${f}"`).join(' or ')}`,
    );
}

/** A JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The keys of `current` that `next` (a whole new set) drops, compared exactly as spelled: a key sent in other
 * letters (app_group_name for APP_GROUP_NAME) replaces the old one, so it is judged as removing it, as
 * `aws:TagKeys` conditions compare keys as written.
 */
export function droppedTagKeys(current: Tags, next: Tags): string[] {
  return Object.keys(current).filter((key) => !Object.hasOwn(next, key));
}

/** Tags as AWS allows them: at most 50, keys 1-128 and values 0-256 of letters, digits, spaces and _.:/=+-@. */
export function parseTags(value: unknown, where = 'tags'): Tags {
  if (value === undefined) return {};
  if (!isObject(value)) {
    throw new SesameError(
      'INVALID',
      `${where} must be an object of key/value strings, e.g. {"project":"Production"}`,
    );
  }
  const entries = Object.entries(value);
  if (entries.length > MAX_TAGS)
    throw new SesameError('INVALID', `${where}: at most ${MAX_TAGS} tags (got ${entries.length})`);
  const tags: Tags = {};
  const seen = new Map<string, string>();
  for (const [key, tagValue] of entries) {
    // Policies match tag keys regardless of case (aws:ResourceTag/Project is aws:ResourceTag/project), so two
    // keys that differ only in case would be two answers to one question.
    const other = seen.get(key.toLowerCase());
    if (other !== undefined)
      throw new SesameError(
        'INVALID',
        `${where}: tag keys ${JSON.stringify(other)} and ${JSON.stringify(key)} differ only in letter case; policies cannot tell them apart, keep one`,
      );
    seen.set(key.toLowerCase(), key);
    if (!TAG_KEY.test(key) || key.startsWith('aws:')) {
      throw new SesameError(
        'INVALID',
        `${where}: tag key ${JSON.stringify(key)} must be 1-128 letters, digits, spaces or _.:/=+-@ and not start with "aws:"`,
      );
    }
    if (typeof tagValue !== 'string' || !TAG_VALUE.test(tagValue)) {
      throw new SesameError(
        'INVALID',
        `${where}.${key}: value must be a string of 0-256 letters, digits, spaces or _.:/=+-@`,
      );
    }
    tags[key] = tagValue;
  }
  return tags;
}

export function optionalInt(
  value: unknown,
  name: string,
  min: number,
  max: number,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new SesameError('INVALID', `${name} must be a whole number from ${min} to ${max}`);
  }
  return value;
}

export function optionalString(value: unknown, name: string, max: number): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length > max)
    throw new SesameError('INVALID', `${name} must be a string of at most ${max} characters`);
  return value;
}

/** A change of tags: `add` (tags to add or change) and `remove` (keys to remove); at least one of them. */
export function parseTagChange(input: unknown): { add: Tags; remove: string[] } {
  const example = 'e.g. {"add":{"owner":"ops"},"remove":["temp"]}';
  if (!isObject(input)) throw new SesameError('INVALID', `the body must be a change of tags, ${example}`);
  onlyFields(input, ['add', 'remove']);
  const add = parseTags(input.add, 'add');
  const remove = input.remove ?? [];
  if (
    !Array.isArray(remove) ||
    remove.some((key) => typeof key !== 'string' || key.length === 0 || key.length > 128)
  )
    throw new SesameError('INVALID', 'remove must be a list of tag keys (1-128 characters each)');
  if (remove.length > MAX_TAGS) throw new SesameError('INVALID', `remove: at most ${MAX_TAGS} keys`);
  const both = remove.filter((key) => Object.hasOwn(add, key));
  if (both.length > 0)
    throw new SesameError('INVALID', `${JSON.stringify(both[0])} is both added and removed: say one`);
  if (Object.keys(add).length === 0 && remove.length === 0)
    throw new SesameError('INVALID', `the change adds and removes nothing, ${example}`);
  return { add, remove: [...new Set(remove as string[])] };
}

/** The tags after `change`: `current` without the removed keys, with `add` over it; and the keys it removed. */
export function applyTagChange(current: Tags, { add, remove }: { add: Tags; remove: string[] }) {
  const kept = Object.entries(current).filter(([key]) => !remove.includes(key) && !Object.hasOwn(add, key));
  return {
    tags: parseTags(Object.fromEntries([...kept, ...Object.entries(add)])),
    removed: remove.filter((key) => Object.hasOwn(current, key)),
  };
}

const TAG_WRITE_ATTEMPTS = 3;

/**
 * Runs a read, judge and write of tags whose write happens only if the tags are unchanged since the read
 * (`attempt` answers undefined when they were not). Another writer in between must not be overwritten, nor
 * slip past a decision made on what it replaced (a tag added meanwhile, dropped without its Untag check):
 * the change is read and judged again, a few times at most.
 */
export async function whileTagsHold<T>(attempt: () => Promise<T | undefined>): Promise<T> {
  for (let tries = 0; tries < TAG_WRITE_ATTEMPTS; tries++) {
    const done = await attempt();
    if (done !== undefined) return done;
  }
  throw new SesameError(
    'CONFLICT',
    `the tags were changed by someone else ${TAG_WRITE_ATTEMPTS} times while this change was being made: try again`,
  );
}
