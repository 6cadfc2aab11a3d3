import { HOTP, Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';
import { constantTimeEqual } from '../crypto.ts';
import { SesameError } from '../errors.ts';

/** RFC 6238 parameters every authenticator app understands; the URI says them explicitly anyway. */
export const TOTP_SETTINGS = { algorithm: 'SHA1', digits: 6, periodSeconds: 30, windowSteps: 1 } as const;

const SIX_DIGITS = /^[0-9]{6}$/;

/** A fresh shared secret: 20 random bytes (160 bits, the RFC 4226 recommendation), base32 without padding. */
export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

/** The `otpauth://totp/…` URI an authenticator app scans: `Issuer:account`, SHA1, 6 digits, 30 s. */
export function totpUri({
  secret,
  account,
  issuer,
}: {
  secret: string;
  account: string;
  issuer: string;
}): string {
  return new TOTP({
    issuer,
    label: account,
    secret: Secret.fromBase32(secret),
    algorithm: TOTP_SETTINGS.algorithm,
    digits: TOTP_SETTINGS.digits,
    period: TOTP_SETTINGS.periodSeconds,
  }).toString();
}

/** The URI as an SVG QR code, ready to inline in the enrolment page. */
export function totpQrSvg(uri: string): Promise<string> {
  return QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
}

/** The time step (RFC 6238 counter T) that `timeSeconds` falls in. */
export function totpStep(timeSeconds: number): number {
  return Math.floor(timeSeconds / TOTP_SETTINGS.periodSeconds);
}

/** The code for one time step; `totpAt` exists so the RFC 6238 vectors (8 digits) can be checked. */
function codeForStep(secret: Secret, step: number, digits: number): string {
  return HOTP.generate({ secret, algorithm: TOTP_SETTINGS.algorithm, digits, counter: step });
}

/** The code for base32 `secret` at `timeSeconds` (Unix seconds). */
export function totpAt(secret: string, timeSeconds: number, digits: number = TOTP_SETTINGS.digits): string {
  return codeForStep(Secret.fromBase32(secret), totpStep(timeSeconds), digits);
}

/**
 * `code` when it has the shape of one (6 digits), else a 400 that says what a code looks like: no code of
 * another shape is right, so one (an empty field sent by mistake) is no guess and costs no attempt.
 */
export function sixDigitCode(code: unknown, from: 'your authenticator app shows' | 'in the email'): string {
  const text = String(code ?? '');
  if (!SIX_DIGITS.test(text)) throw new SesameError('INVALID', `the code must be the 6 digits ${from}`);
  return text;
}

export type TotpResult = { ok: true; step: number } | { ok: false; reason: 'malformed' | 'wrong' | 'reused' };

/**
 * Checks a 6-digit code against the steps now-1, now and now+1 (clock drift of up to 30 s either way).
 * A code is single use: a step at or before `lastUsedStep` is refused as `reused`, which also refuses an
 * older still-in-window code once a newer one was accepted. Store the returned `step` as the new
 * `lastUsedStep`. Every candidate is compared in constant time, and all of them are compared.
 */
export function verifyTotp({
  secret,
  code,
  now,
  lastUsedStep,
}: {
  secret: string;
  code: string;
  now: Date;
  lastUsedStep?: number | null;
}): TotpResult {
  if (!SIX_DIGITS.test(code)) return { ok: false, reason: 'malformed' };
  const key = Secret.fromBase32(secret);
  const current = totpStep(Math.floor(now.getTime() / 1000));
  const matches: number[] = [];
  for (let step = current - TOTP_SETTINGS.windowSteps; step <= current + TOTP_SETTINGS.windowSteps; step++) {
    if (constantTimeEqual(codeForStep(key, step, TOTP_SETTINGS.digits), code)) matches.push(step);
  }
  if (matches.length === 0) return { ok: false, reason: 'wrong' };
  const fresh = matches.filter(
    (step) => lastUsedStep === null || lastUsedStep === undefined || step > lastUsedStep,
  );
  const step = fresh.at(-1);
  return step === undefined ? { ok: false, reason: 'reused' } : { ok: true, step };
}
