import { SesameError } from '../errors.ts';
import { isObject } from '../services/validate.ts';

/** When to ask for a second factor, with what, and what to do with someone who has no device yet. */
export type MfaSettings = {
  /** `always`: every sign-in; `context-change`: only from a new device or address. */
  prompt: (typeof MFA_PROMPTS)[number];
  methods: (typeof MFA_METHODS)[number][];
  /** No device registered: send a one-time code by email, refuse, or make them register one now. */
  withoutDevice: (typeof WITHOUT_DEVICE)[number];
};

export const MFA_PROMPTS = ['always', 'context-change'] as const;
export const MFA_METHODS = ['totp', 'webauthn'] as const;
export const WITHOUT_DEVICE = ['email-code', 'block', 'register'] as const;

export const DEFAULT_MFA_SETTINGS: MfaSettings = {
  prompt: 'always',
  methods: ['totp', 'webauthn'],
  withoutDevice: 'register',
};

const KEYS = ['prompt', 'methods', 'withoutDevice'];

/** Validates a full or partial update on top of `current`; every problem is named with its field. */
export function parseMfaSettings(input: unknown, current: MfaSettings = DEFAULT_MFA_SETTINGS): MfaSettings {
  if (!isObject(input)) throw new SesameError('INVALID', 'MFA settings must be a JSON object');
  const v = input;
  const problems: { path: string; message: string }[] = [];
  for (const key of Object.keys(v)) {
    if (!KEYS.includes(key))
      problems.push({ path: key, message: `unknown setting (known: ${KEYS.join(', ')})` });
  }
  const oneOf = <T extends string>(key: string, allowed: readonly T[], fallback: T): T => {
    if (v[key] === undefined) return fallback;
    if (allowed.includes(v[key] as T)) return v[key] as T;
    problems.push({ path: key, message: `must be one of ${allowed.map((a) => `"${a}"`).join(', ')}` });
    return fallback;
  };
  const prompt = oneOf('prompt', MFA_PROMPTS, current.prompt);
  const withoutDevice = oneOf('withoutDevice', WITHOUT_DEVICE, current.withoutDevice);
  let methods = current.methods;
  if (v.methods !== undefined) {
    const list = v.methods;
    if (
      !Array.isArray(list) ||
      list.length === 0 ||
      !list.every((m) => MFA_METHODS.includes(m)) ||
      new Set(list).size !== list.length
    ) {
      problems.push({
        path: 'methods',
        message: `must be a non-empty list of distinct methods from ${MFA_METHODS.map((m) => `"${m}"`).join(', ')}`,
      });
    } else methods = list as MfaSettings['methods'];
  }
  if (problems.length > 0) {
    throw new SesameError(
      'INVALID',
      `MFA settings rejected: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
      { details: problems },
    );
  }
  return { prompt, methods: [...methods], withoutDevice };
}
