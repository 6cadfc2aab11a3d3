import { randomUUID } from 'node:crypto';
import { SesameError } from '../errors.ts';
import {
  type AuthFlow,
  type MfaDevice,
  type SecretBox,
  SecretBoxError,
  type Store,
  type User,
} from '../store/index.ts';
import { type Flows, wrongAnswer } from './sign-in-flows.ts';
import { newTotpSecret, sixDigitCode, totpQrSvg, totpUri, verifyTotp } from './totp.ts';
import { createWebAuthn, type RegistrationResponseJSON } from './webauthn.ts';

/** The relying party a WebAuthn ceremony runs for: this server as the browser reaches it. */
export type RelyingParty = { rpId: string; origin: string };

type Deps = {
  store: Pick<Store, 'createMfaDevice' | 'listMfaDevices'>;
  flows: Flows;
  issuer: string;
  now: () => number;
  /** Seals the new secret while it waits in the flow (the server's secrets key, as the store's). */
  secrets: SecretBox;
};

/** Where a new authenticator app's secret waits for its first code: in its flow, sealed for that flow. */
const pendingSecretAt = (flow: AuthFlow) => `auth_flows.data.totpSecret of flow ${flow.idHash}`;

const MAX_DEVICES = 20;

type EnrolOptions = { firstOnly?: boolean };

export function deviceName(input: unknown, fallback: string): string {
  if (input === undefined || input === null || input === '') return fallback;
  if (typeof input !== 'string' || input.trim().length === 0 || input.length > 64 || /[\p{Cc}]/u.test(input))
    throw new SesameError('INVALID', 'name must be 1-64 printable characters');
  return input.trim();
}

/**
 * Registering an authenticator app or a security key, either as a step of signing in (enrolment required) or
 * from one's own account page. The pending secret or challenge lives in the flow, server-side.
 */
export function createMfaEnrolment({ store, flows, issuer, now, secrets }: Deps) {
  /** The secret waiting in `flow`; one there is none of (or that no longer opens: another key) is asked for again. */
  function pendingSecret(flow: AuthFlow): string {
    const sealed = flow.data.totpSecret;
    const again = 'ask for a new authenticator secret first (the enrolment step before)';
    if (typeof sealed !== 'string') throw new SesameError('INVALID', again);
    try {
      return secrets.open(sealed, pendingSecretAt(flow));
    } catch (error) {
      if (!(error instanceof SecretBoxError)) throw error;
      throw new SesameError('INVALID', `the new authenticator secret can no longer be read: ${again}`);
    }
  }

  async function wrong(attempts: number, message: string): Promise<never> {
    throw wrongAnswer(attempts, message, 'start again');
  }

  /** Enrolment as a step of signing in is for someone with no device at all; it must not add a second one. */
  function stillFirst(devices: MfaDevice[], options: EnrolOptions): void {
    if (options.firstOnly && devices.length > 0)
      throw new SesameError(
        'FORBIDDEN',
        'this account has an MFA device already: sign in with it, then add more from your account page',
      );
  }

  function checkRoom(devices: MfaDevice[]): void {
    if (devices.length >= MAX_DEVICES)
      throw new SesameError('CONFLICT', `you have ${MAX_DEVICES} MFA devices already: remove one first`);
  }

  async function room(user: User): Promise<MfaDevice[]> {
    const devices = await store.listMfaDevices(user.id);
    checkRoom(devices);
    return devices;
  }

  /**
   * A verified enrolment: the flow is used up, then (if there is still room) the device is stored. `fields` are
   * what the kind of device brings; the id, owner and times are set here.
   */
  async function save(
    token: string,
    user: User,
    options: EnrolOptions,
    fields: Pick<MfaDevice, 'kind' | 'name'> &
      Partial<Omit<MfaDevice, 'id' | 'userId' | 'createdAt' | 'lastUsedAt' | 'kind' | 'name'>>,
  ): Promise<MfaDevice> {
    await flows.take(token);
    const devices = await store.listMfaDevices(user.id);
    stillFirst(devices, options);
    checkRoom(devices);
    const device: MfaDevice = {
      id: `mfa-${randomUUID()}`,
      userId: user.id,
      secret: null,
      credentialId: null,
      publicKey: null,
      counter: 0,
      transports: [],
      lastUsedStep: null,
      createdAt: now(),
      lastUsedAt: now(),
      ...fields,
    };
    await store.createMfaDevice(device);
    return device;
  }

  return {
    async totpSecret(token: string, flow: AuthFlow, user: User) {
      await room(user);
      const secret = newTotpSecret();
      await flows.update(token, {
        data: { ...flow.data, totpSecret: secrets.seal(secret, pendingSecretAt(flow)) },
      });
      const uri = totpUri({ secret, account: user.username, issuer });
      return { secret, uri, qrSvg: await totpQrSvg(uri) };
    },

    /** Checks the first code from the new app, consumes the flow and stores the device. */
    async confirmTotp(
      token: string,
      flow: AuthFlow,
      user: User,
      input: Record<string, unknown>,
      options: EnrolOptions = {},
    ) {
      const secret = pendingSecret(flow);
      const name = deviceName(input.name, 'Authenticator app');
      const code = sixDigitCode(input.code, 'your authenticator app shows'); // before the attempt is counted
      const attempts = await flows.reserve(token);
      const result = verifyTotp({ secret, code, now: new Date(now()) });
      if (!result.ok) return wrong(attempts, 'that code is not right');
      return save(token, user, options, { kind: 'totp', name, secret, lastUsedStep: result.step });
    },

    async webauthnOptions(token: string, flow: AuthFlow, user: User, rp: RelyingParty) {
      const devices = await room(user);
      const webauthn = createWebAuthn({ ...rp, rpName: issuer });
      const { options, challenge } = await webauthn.registrationOptions({
        userId: user.id,
        username: user.username,
        existing: devices
          .filter((d) => d.kind === 'webauthn' && d.credentialId)
          .map((d) => ({ credentialId: d.credentialId as string, transports: d.transports })),
      });
      await flows.update(token, { data: { ...flow.data, challenge } });
      return options;
    },

    async confirmWebauthn(
      token: string,
      flow: AuthFlow,
      user: User,
      rp: RelyingParty,
      input: Record<string, unknown>,
      options: EnrolOptions = {},
    ) {
      const challenge = flow.data.challenge;
      if (typeof challenge !== 'string')
        throw new SesameError('INVALID', 'ask for registration options first (the enrolment step before)');
      const name = deviceName(input.name, 'Security key');
      const webauthn = createWebAuthn({ ...rp, rpName: issuer });
      const attempts = await flows.reserve(token);
      let credential: Awaited<ReturnType<typeof webauthn.verifyRegistration>>;
      try {
        credential = await webauthn.verifyRegistration({
          response: input.response as RegistrationResponseJSON,
          expectedChallenge: challenge,
        });
      } catch (error) {
        return wrong(attempts, (error as Error).message);
      }
      return save(token, user, options, {
        kind: 'webauthn',
        name,
        credentialId: credential.credentialId,
        publicKey: credential.publicKey,
        counter: credential.counter,
        transports: credential.transports,
      });
    },
  };
}

export type MfaEnrolment = ReturnType<typeof createMfaEnrolment>;
