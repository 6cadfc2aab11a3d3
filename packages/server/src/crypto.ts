import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/** Lower-case hex of n random nibbles: instance ids (`i-` + 17), session suffixes. */
export function randomHex(nibbles: number): string {
  return randomBytes(Math.ceil(nibbles / 2))
    .toString('hex')
    .slice(0, nibbles);
}

export function randomToken(prefix: string, bytes = 32): string {
  return `${prefix}${randomBytes(bytes).toString('base64url')}`;
}

/** Tokens and codes are stored only as SHA-256 hashes; they have enough entropy that no salt is needed. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function constantTimeEqual(a: string, b: string): boolean {
  const left = createHash('sha256').update(a).digest();
  const right = createHash('sha256').update(b).digest();
  return timingSafeEqual(left, right) && a.length === b.length;
}

export type ScryptCost = { N: number; r: number; p: number };
export const DEFAULT_SCRYPT_COST: ScryptCost = { N: 2 ** 15, r: 8, p: 1 };

function scryptAsync(password: string, salt: Buffer, cost: ScryptCost): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, 32, { ...cost, maxmem: 256 * cost.N * cost.r }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

/** `scrypt$N$r$p$salt$hash`, base64url parts. */
export async function hashPassword(password: string, cost = DEFAULT_SCRYPT_COST): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, cost);
  return ['scrypt', cost.N, cost.r, cost.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/**
 * Whether a stored hash was made at a lower cost than `cost` (it is then made again at the next right password);
 * a lowered setting never weakens a stored hash.
 */
export function hashedAtLowerCost(stored: string, cost: ScryptCost = DEFAULT_SCRYPT_COST): boolean {
  const [, N, r, p] = stored.split('$');
  return Number(N) * Number(r) * Number(p) < cost.N * cost.r * cost.p;
}

const dummies = new Map<number, string>();
/** A hash nobody's password matches, at the given cost: an unknown user costs the same work as a known one. */
function dummyHash(cost: ScryptCost): string {
  let hash = dummies.get(cost.N);
  if (!hash) {
    hash = `scrypt$${cost.N}$${cost.r}$${cost.p}$${Buffer.alloc(16).toString('base64url')}$${Buffer.alloc(32).toString('base64url')}`;
    dummies.set(cost.N, hash);
  }
  return hash;
}

/** Verifies in constant time; with `stored` undefined it still spends the same work so timing tells nothing. */
export async function verifyPassword(
  password: string,
  stored: string | null | undefined,
  cost: ScryptCost = DEFAULT_SCRYPT_COST,
): Promise<boolean> {
  const parts = (stored ?? dummyHash(cost)).split('$');
  const [scheme, N, r, p, salt, hash] = parts;
  if (parts.length !== 6 || scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await scryptAsync(password, Buffer.from(salt, 'base64url'), {
    N: Number(N),
    r: Number(r),
    p: Number(p),
  });
  return timingSafeEqual(key, expected) && stored !== undefined && stored !== null;
}
