import { randomInt } from 'node:crypto';

/** A one-time sign-in code sent by email: 6 digits, uniform, leading zeros kept. Store only `hashToken(code)`. */
export function newEmailCode(): string {
  return String(randomInt(0, 1_000_000)).padStart(6, '0');
}
