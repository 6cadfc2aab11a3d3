import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** RFC 7636: a 43-character verifier (32 random bytes, base64url) and its S256 challenge. */
export function newPkce(): { verifier: string; challenge: string; method: 'S256' } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: pkceChallenge(verifier), method: 'S256' };
}

export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** A random `state` for the loopback redirect: binds the callback to this `sesame login`. */
export function newState(): string {
  return randomBytes(24).toString('base64url');
}

/** Compares the state the callback carried with ours in constant time (hashing first evens out the lengths). */
export function statesMatch(expected: string, received: unknown): boolean {
  if (typeof received !== 'string' || received.length === 0) return false;
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(received).digest();
  return timingSafeEqual(a, b) && expected === received;
}
