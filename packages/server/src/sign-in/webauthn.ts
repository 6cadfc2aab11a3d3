import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import { SesameError } from '../errors.ts';

export type { AuthenticationResponseJSON, RegistrationResponseJSON };

/** How the server remembers a security key or passkey: base64url id and COSE public key, last signature counter. */
export type StoredCredential = {
  credentialId: string;
  publicKey: string;
  counter: number;
  transports: string[];
};

type CredentialRef = Pick<StoredCredential, 'credentialId' | 'transports'>;

export type WebAuthnSettings = {
  /** The registrable domain the credentials are bound to, e.g. `sesame.example.com` (no scheme, no port). */
  rpId: string;
  /** Shown by the browser and the authenticator, e.g. `Sesame`. */
  rpName: string;
  /** The web console's origin, e.g. `https://sesame.example.com` (scheme, host and non-default port). */
  origin: string;
};

/** How long the browser waits for a touch. */
const CEREMONY_TIMEOUT_MS = 120_000;

const TRANSPORTS = new Set<string>(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);

/** Known transport hints only: a stored list that picked up junk must not end up in the browser's options. */
function transportsOf(list: readonly string[] | undefined): string[] {
  return (list ?? []).filter((t) => TRANSPORTS.has(t));
}

function toBase64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

/** The library's reason, reworded where it would echo the challenge or a JavaScript internal. */
function reasonOf(cause: unknown): string {
  if (!(cause instanceof Error) || cause instanceof TypeError) return 'the response is malformed';
  if (/response challenge/i.test(cause.message))
    return 'the response answers a different challenge (expired or restarted)';
  if (/counter value/i.test(cause.message))
    return 'its signature counter went backwards, so it may have been cloned';
  return cause.message;
}

function rejected(what: string, cause: unknown): SesameError {
  return new SesameError('UNAUTHENTICATED', `${what} could not be verified: ${reasonOf(cause)}; try again`, {
    cause,
  });
}

/**
 * WebAuthn ceremonies (security keys and passkeys) for one relying party. Options go to the browser as
 * they are; the caller keeps `challenge` server-side (single use, short-lived) and hands it back to verify.
 * User verification is preferred, not required: this is a second factor after the password.
 */
export function createWebAuthn({ rpId, rpName, origin }: WebAuthnSettings) {
  return {
    async registrationOptions({
      userId,
      username,
      existing,
    }: {
      userId: string;
      username: string;
      existing: CredentialRef[];
    }): Promise<{ options: PublicKeyCredentialCreationOptionsJSON; challenge: string }> {
      const options = await generateRegistrationOptions({
        rpName,
        rpID: rpId,
        userID: Buffer.from(userId, 'utf8'),
        userName: username,
        userDisplayName: username,
        timeout: CEREMONY_TIMEOUT_MS,
        attestationType: 'none',
        excludeCredentials: existing.map((c) => ({
          id: c.credentialId,
          transports: transportsOf(c.transports),
        })),
        authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
      });
      return { options, challenge: options.challenge };
    },

    async verifyRegistration({
      response,
      expectedChallenge,
    }: {
      response: RegistrationResponseJSON;
      expectedChallenge: string;
    }): Promise<StoredCredential & { aaguid?: string; userVerified: boolean }> {
      let result: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
      try {
        result = await verifyRegistrationResponse({
          response,
          expectedChallenge,
          expectedOrigin: origin,
          expectedRPID: rpId,
          requireUserVerification: false,
        });
      } catch (error) {
        throw rejected('the new security key or passkey', error);
      }
      if (!result.verified) throw rejected('the new security key or passkey', undefined);
      const { credential, aaguid, userVerified } = result.registrationInfo;
      return {
        credentialId: credential.id,
        publicKey: toBase64url(credential.publicKey),
        counter: credential.counter,
        transports: transportsOf(credential.transports ?? response.response.transports),
        ...(aaguid && aaguid !== '00000000-0000-0000-0000-000000000000' ? { aaguid } : {}),
        userVerified,
      };
    },

    async authenticationOptions({
      allow,
    }: {
      allow: CredentialRef[];
    }): Promise<{ options: PublicKeyCredentialRequestOptionsJSON; challenge: string }> {
      const options = await generateAuthenticationOptions({
        rpID: rpId,
        allowCredentials: allow.map((c) => ({ id: c.credentialId, transports: transportsOf(c.transports) })),
        userVerification: 'preferred',
        timeout: CEREMONY_TIMEOUT_MS,
      });
      return { options, challenge: options.challenge };
    },

    /** Also refuses a signature counter that did not move forward (a cloned authenticator), unless both are 0. */
    async verifyAuthentication({
      response,
      expectedChallenge,
      credential,
    }: {
      response: AuthenticationResponseJSON;
      expectedChallenge: string;
      credential: StoredCredential;
    }): Promise<{ newCounter: number; userVerified: boolean }> {
      if (response?.id !== credential.credentialId) {
        throw rejected(
          'the security key or passkey',
          new Error('the response is for a different credential'),
        );
      }
      let result: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
      try {
        result = await verifyAuthenticationResponse({
          response,
          expectedChallenge,
          expectedOrigin: origin,
          expectedRPID: rpId,
          credential: {
            id: credential.credentialId,
            publicKey: Buffer.from(credential.publicKey, 'base64url'),
            counter: credential.counter,
            transports: transportsOf(credential.transports),
          },
          requireUserVerification: false,
        });
      } catch (error) {
        throw rejected('the security key or passkey', error);
      }
      if (!result.verified)
        throw rejected('the security key or passkey', new Error('the signature is not valid'));
      return {
        newCounter: result.authenticationInfo.newCounter,
        userVerified: result.authenticationInfo.userVerified,
      };
    },
  };
}

export type WebAuthn = ReturnType<typeof createWebAuthn>;
