import { type ArnSettings, serverArn } from '../arn.ts';
import type { Audit } from '../audit.ts';
import type { Principal } from '../authorize.ts';
import { SesameError } from '../errors.ts';
import { publicDevice } from '../services/identity.ts';
import type { SignInSession, Store, User } from '../store/index.ts';
import { HANDED_OFF } from './cli-handoff.ts';
import { deviceName, type MfaEnrolment, type RelyingParty } from './mfa-enrolment.ts';
import type { MfaSettings } from './mfa-settings.ts';
import type { Flows } from './sign-in-flows.ts';

type Deps = {
  store: Pick<
    Store,
    | 'getUserById'
    | 'listMfaDevices'
    | 'renameMfaDevice'
    | 'deleteMfaDevice'
    | 'forgetSignInDevice'
    | 'listSignInSessions'
    | 'revokeSignInSession'
  >;
  flows: Flows;
  enrolment: MfaEnrolment;
  mfaSettings: () => Promise<MfaSettings>;
  audit: Audit;
  arn: ArnSettings;
  now?: () => number;
};

const FRESH_MFA_MS = 15 * 60_000;

/** Self-service: people manage their own MFA devices and sign-ins (no policy needed for one's own). */
export function createMfaDevices({ store, flows, enrolment, mfaSettings, audit, arn, now = Date.now }: Deps) {
  const userArn = (username: string) => serverArn(arn, 'user', username);

  async function self(principal: Principal): Promise<User> {
    const user = await store.getUserById(principal.userId);
    if (!user || user.disabled) throw new SesameError('UNAUTHENTICATED', 'this account is disabled');
    return user;
  }

  async function allowed(kind: 'totp' | 'webauthn') {
    if (!(await mfaSettings()).methods.includes(kind))
      throw new SesameError(
        'INVALID',
        `this server does not accept ${kind === 'totp' ? 'authenticator apps' : 'security keys'}`,
      );
  }

  /**
   * Adding or removing a second factor needs a recent real one: a stolen session (or an old remembered
   * context) must not become a permanent device of the thief's, or take away the owner's.
   */
  const freshMfa = (session: SignInSession) => {
    // An approval in the browser is the phisher's favourite: one must not become a permanent device of theirs.
    if (session.mfaMethod?.startsWith(HANDED_OFF))
      throw new SesameError(
        'FORBIDDEN',
        'this sign-in was approved in the browser, so it cannot change your MFA devices: change them in the browser, or sign in here with `sesame login --user <name>` first',
      );
    const age = session.mfaAt === null ? Number.POSITIVE_INFINITY : now() - session.mfaAt;
    if (session.mfaMethod === 'remembered' || age > FRESH_MFA_MS)
      throw new SesameError(
        'FORBIDDEN',
        `changing your MFA devices needs a second factor from the last ${FRESH_MFA_MS / 60_000} minutes: sign out and sign in again, then retry`,
      );
  };

  const enrolmentFlow = async (principal: Principal, token: unknown) => {
    const flow = await flows.load(token, ['device-enrol'], 'enrolment');
    if (flow.userId !== principal.userId)
      throw new SesameError('UNAUTHENTICATED', 'this enrolment belongs to someone else');
    return flow;
  };

  const created = (principal: Principal, device: { id: string; kind: string }) =>
    audit({
      actor: principal,
      action: 'sesame:CreateMfaDevice',
      resource: userArn(principal.username),
      outcome: 'succeeded',
      detail: { kind: device.kind, device: device.id },
    });

  return {
    async list(principal: Principal) {
      return (await store.listMfaDevices((await self(principal)).id)).map(publicDevice);
    },

    async startTotp(principal: Principal, session: SignInSession) {
      freshMfa(session);
      await allowed('totp');
      const user = await self(principal);
      const flow = await flows.create('device-enrol', user.id, {});
      return { enrolment: flow.token, ...(await enrolment.totpSecret(flow.token, flow.record, user)) };
    },

    async confirmTotp(principal: Principal, input: Record<string, unknown>) {
      const flow = await enrolmentFlow(principal, input.enrolment);
      const device = await enrolment.confirmTotp(
        input.enrolment as string,
        flow,
        await self(principal),
        input,
      );
      await created(principal, device);
      return publicDevice(device);
    },

    async startWebauthn(principal: Principal, session: SignInSession, rp: RelyingParty) {
      freshMfa(session);
      await allowed('webauthn');
      const user = await self(principal);
      const flow = await flows.create('device-enrol', user.id, {});
      return {
        enrolment: flow.token,
        options: await enrolment.webauthnOptions(flow.token, flow.record, user, rp),
      };
    },

    async confirmWebauthn(principal: Principal, rp: RelyingParty, input: Record<string, unknown>) {
      const flow = await enrolmentFlow(principal, input.enrolment);
      const device = await enrolment.confirmWebauthn(
        input.enrolment as string,
        flow,
        await self(principal),
        rp,
        input,
      );
      await created(principal, device);
      return publicDevice(device);
    },

    async rename(principal: Principal, id: string, input: Record<string, unknown>) {
      const user = await self(principal);
      const name = deviceName(input.name, '');
      if (!name) throw new SesameError('INVALID', 'name must be 1-64 printable characters');
      if (!(await store.renameMfaDevice(user.id, id, name)))
        throw new SesameError('NOT_FOUND', `you have no MFA device ${id}`);
      const device = (await store.listMfaDevices(user.id)).find((d) => d.id === id);
      return device && publicDevice(device);
    },

    /** Removing the last device is allowed: the next sign-in asks to register one (or as the settings say). */
    async remove(principal: Principal, session: SignInSession, id: string) {
      freshMfa(session);
      const user = await self(principal);
      if (!(await store.deleteMfaDevice(user.id, id)))
        throw new SesameError('NOT_FOUND', `you have no MFA device ${id}`);
      await audit({
        actor: principal,
        action: 'sesame:DeleteMfaDevice',
        resource: userArn(user.username),
        outcome: 'succeeded',
        detail: { device: id },
      });
    },

    async signIns(principal: Principal, currentId: string) {
      const t = now();
      return (await store.listSignInSessions(principal.userId))
        .filter((s) => s.revokedAt === null && s.expiresAt > t)
        .map((s) => ({
          id: s.id,
          method: s.method,
          provider: s.providerId,
          client: s.client,
          sourceAddress: s.sourceAddress,
          mfa: s.mfaMethod,
          createdAt: s.createdAt,
          expiresAt: s.expiresAt,
          current: s.id === currentId,
        }));
    },

    async revokeSignIn(principal: Principal, id: string) {
      const mine = (await store.listSignInSessions(principal.userId)).some((s) => s.id === id);
      if (!mine || !(await store.revokeSignInSession(id, now())))
        throw new SesameError('NOT_FOUND', `you have no active sign-in ${id}`);
      // Revoking a sign-in says "not mine, or lost": its device is asked for MFA again and loses its own
      // lockout scope. Signing out (logout) keeps it.
      await store.forgetSignInDevice(id);
      await audit({
        actor: principal,
        action: 'sesame:RevokeSignIn',
        resource: userArn(principal.username),
        outcome: 'succeeded',
        detail: { signIn: id },
      });
    },
  };
}

export type MfaDevices = ReturnType<typeof createMfaDevices>;
