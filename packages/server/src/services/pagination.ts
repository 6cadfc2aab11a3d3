import { SesameError } from '../errors.ts';

/** Where a listing is ordered: compared part by part, numbers as numbers, strings by code unit. */
export type SortKey = readonly (string | number)[];
/** A page request: at most `maxResults` items, those after `after` (the last key of the previous page). */
export type PageQuery = { maxResults: number; after: SortKey | undefined };
export type Page<T> = { items: T[]; nextToken?: string };

/** The largest page, and the page size when none is asked for. */
export const MAX_RESULTS = 1000;
/** Room for the longest key handed out: a 255-character name written as \u escapes, an id, base64. */
const MAX_TOKEN_LENGTH = 4096;

export function compareKeys(a: SortKey, b: SortKey): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] as string | number;
    const y = b[i] as string | number;
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

/** `?maxResults=` (1–1000, default 1000) and `?nextToken=` (from the previous page) of a listing request. */
export function pageQuery(requestQuery: unknown): PageQuery {
  const query = (requestQuery ?? {}) as Record<string, unknown>;
  let maxResults = MAX_RESULTS;
  if (query.maxResults !== undefined) {
    const text = String(query.maxResults);
    maxResults = /^[0-9]{1,4}$/.test(text) ? Number(text) : 0;
    if (maxResults < 1 || maxResults > MAX_RESULTS)
      throw new SesameError('INVALID', `maxResults must be a whole number from 1 to ${MAX_RESULTS}`);
  }
  if (query.nextToken === undefined) return { maxResults, after: undefined };
  return { maxResults, after: decodeToken(query.nextToken) };
}

function decodeToken(value: unknown): SortKey {
  const refused = () =>
    new SesameError(
      'INVALID',
      'nextToken is not one this listing gave out: pass the nextToken of the previous page as it was',
    );
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_TOKEN_LENGTH) throw refused();
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    throw refused();
  }
  if (
    !Array.isArray(key) ||
    key.length === 0 ||
    key.length > 4 ||
    !key.every((part) => typeof part === 'string' || (typeof part === 'number' && Number.isFinite(part)))
  )
    throw refused();
  return key;
}

export const encodeToken = (key: SortKey) => Buffer.from(JSON.stringify(key)).toString('base64url');

/**
 * One page of `items` in `key` order: the first `maxResults` after `query.after`, and a nextToken when more
 * follow. A token names a position, not an item: items added or removed between pages move nothing else.
 */
export function page<T>(items: readonly T[], query: PageQuery, key: (item: T) => SortKey): Page<T> {
  let keyed = items.map((item) => ({ item, key: key(item) }));
  keyed.sort((a, b) => compareKeys(a.key, b.key));
  const after = query.after;
  if (after) keyed = keyed.filter((k) => compareKeys(k.key, after) > 0);
  const shown = keyed.slice(0, query.maxResults);
  const last = shown.at(-1);
  return {
    items: shown.map((k) => k.item),
    ...(keyed.length > shown.length && last ? { nextToken: encodeToken(last.key) } : {}),
  };
}

/** A listing's answer: `{ <name>: [...], nextToken? }`. */
export function listing<T>(name: string, { items, nextToken }: Page<T>): Record<string, unknown> {
  return { [name]: items, ...(nextToken ? { nextToken } : {}) };
}
