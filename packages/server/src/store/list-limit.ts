/** The row limit of a list query: a whole, non-negative count; a missing or non-finite limit gets the default. */
export function toLimit(limit: number | undefined, fallback: number): number {
  if (limit === undefined || !Number.isFinite(limit)) return fallback;
  return Math.max(0, Math.floor(limit));
}
