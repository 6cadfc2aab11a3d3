import { randomBytes, X509Certificate } from 'node:crypto';
import { SAML, type SamlConfig, SamlStatusError, ValidateInResponseTo } from '@node-saml/node-saml';
import type { AudienceRestrictionXML } from '@node-saml/node-saml/lib/types';
import { SesameError } from '../errors.ts';

/**
 * A SAML 2.0 service provider (HTTP-Redirect AuthnRequest out, HTTP-POST Response in) on top of
 * @node-saml/node-saml. node-saml verifies the XML signature and checks Conditions (times, audience);
 * this module adds what node-saml leaves to the caller for POST responses — issuer, Destination and
 * SubjectConfirmation Recipient/times, InResponseTo against the caller's pending request, one-time use —
 * and turns every failure into `SesameError('UNAUTHENTICATED', …)` that says what was wrong.
 * Nothing here logs: an assertion is a bearer credential.
 */
export type SamlServiceProviderConfig = {
  entityId: string;
  acsUrl: string;
  idpSsoUrl: string;
  /** PEM certificates the IdP signs with; more than one during a key rollover. */
  idpCertificates: string[];
  idpEntityId?: string;
  clockSkewMs?: number;
  wantAssertionsSigned?: boolean;
  maxAssertionAgeMs?: number;
  store: { consumeOnce(key: string, expiresAt: number): Promise<boolean> };
};

export type SamlSignIn = {
  nameId: string;
  sessionIndex?: string;
  /** Every attribute, every value: multi-valued attributes (AWS `Role`) keep all values. */
  attributes: Record<string, string[]>;
  authnContextClassRef?: string;
  /** Epoch ms the IdP authenticated the person (AuthnStatement AuthnInstant): an IdP session may be days old. */
  authnInstant?: number;
  /** Epoch ms after which the assertion is no longer acceptable. */
  notOnOrAfter?: number;
  issuer: string;
};

export type SamlServiceProvider = ReturnType<typeof createSamlServiceProvider>;

const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';
const MAX_RELAY_STATE_BYTES = 80; // saml-bindings §3.4.3

export function createSamlServiceProvider(config: SamlServiceProviderConfig) {
  const { entityId, acsUrl, idpEntityId, clockSkewMs = 60_000, wantAssertionsSigned = true, store } = config;
  checkConfig(config, clockSkewMs);
  const options: SamlConfig = {
    issuer: entityId,
    callbackUrl: acsUrl,
    entryPoint: config.idpSsoUrl,
    idpCert: config.idpCertificates,
    audience: entityId,
    acceptedClockSkewMs: clockSkewMs,
    maxAssertionAgeMs: config.maxAssertionAgeMs ?? 0,
    wantAssertionsSigned,
    wantAuthnResponseSigned: false, // a signed assertion alone is enough; node-saml defaults to requiring both
    validateInResponseTo: ValidateInResponseTo.never, // checked below against the caller's expectedRequestId
    disableRequestedAuthnContext: true, // don't force PasswordProtectedTransport: it breaks IdPs doing MFA
    identifierFormat: null, // let the IdP choose the NameID format
  };
  const saml = new CheckedSaml(options);

  async function verify(samlResponse: string, relayState: string | undefined) {
    try {
      const container: Record<string, string> = { SAMLResponse: samlResponse };
      if (relayState !== undefined) container.RelayState = relayState;
      const { profile } = await saml.validatePostResponseAsync(container);
      if (!profile)
        throw reject('the IdP could not sign you in without interaction (NoPassive); sign in again');
      return profile;
    } catch (error) {
      throw error instanceof SesameError ? error : await explain(error, samlResponse);
    }
  }

  /** node-saml says "Invalid signature" both for a missing and a wrong signature; tell them apart. */
  async function explain(error: unknown, samlResponse: string): Promise<SesameError> {
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof Rejection) return reject(error.message);
    if (error instanceof SamlStatusError) return reject(`the IdP did not sign you in: ${message}`, error);
    if (message !== 'Invalid signature') return reject(describe(message), error);
    if (!/<(?:[A-Za-z_][\w.-]*:)?Signature[\s>]/.test(decode(samlResponse))) {
      return reject(
        'SAML response has no signature: neither the response nor the assertion is signed',
        error,
      );
    }
    if (wantAssertionsSigned) {
      const relaxed = new CheckedSaml({ ...options, wantAssertionsSigned: false });
      const responseSignatureValid = await relaxed
        .validatePostResponseAsync({ SAMLResponse: samlResponse })
        .then(
          () => true,
          (retry: unknown) => !(retry instanceof Error && retry.message.startsWith('Invalid signature')),
        );
      if (responseSignatureValid) {
        return reject(
          'SAML assertion has no signature: only the response is signed; have the IdP sign the assertion',
          error,
        );
      }
    }
    return reject(
      'SAML signature invalid: it does not verify against the configured IdP certificate(s) — signed with another key or changed after signing',
      error,
    );
  }

  return {
    async loginUrl({
      relayState,
    }: {
      relayState?: string;
    } = {}): Promise<{ url: string; requestId: string }> {
      if (relayState !== undefined && Buffer.byteLength(relayState) > MAX_RELAY_STATE_BYTES) {
        throw new SesameError(
          'INVALID',
          `relayState must be at most ${MAX_RELAY_STATE_BYTES} bytes (SAML limit)`,
        );
      }
      const requestId = `_${randomBytes(20).toString('hex')}`;
      const request = new SAML({ ...options, generateUniqueId: () => requestId });
      const url = await request.getAuthorizeUrlAsync(relayState ?? '', undefined, {});
      return { url, requestId };
    },

    async validate(input: {
      samlResponse: string;
      relayState?: string;
      expectedRequestId?: string;
    }): Promise<SamlSignIn> {
      const { samlResponse, expectedRequestId } = input;
      const xml = checkEnvelope(samlResponse, acsUrl);
      const profile = await verify(samlResponse, input.relayState);
      checkSuccess(xml);
      const assertion = xmlChild(profile.getAssertion?.(), 'Assertion');
      if (!assertion) throw reject('SAML response has no assertion');
      const assertionId = assertion.$?.ID;
      if (!assertionId) throw reject('SAML assertion has no ID');

      const issuer = text(first(assertion, 'Issuer'));
      if (!issuer) throw reject('SAML assertion has no Issuer');
      if (idpEntityId !== undefined && issuer !== idpEntityId) {
        throw reject(`SAML assertion issuer is ${issuer}, not the configured IdP ${idpEntityId}`);
      }
      const subject = first(assertion, 'Subject');
      const confirmation = confirmSubject(subject, acsUrl, clockSkewMs);
      const responseInResponseTo =
        typeof profile.inResponseTo === 'string' ? profile.inResponseTo : undefined;
      checkInResponseTo([responseInResponseTo, confirmation.inResponseTo], expectedRequestId);
      const nameId = text(first(subject, 'NameID'));
      if (!nameId) throw reject('SAML assertion has no NameID; configure the IdP to send one');

      const conditionsEnd = time(first(assertion, 'Conditions')?.$?.NotOnOrAfter);
      const maxAge = config.maxAssertionAgeMs;
      const issuedAt = time(assertion.$?.IssueInstant);
      const ageEnd = maxAge && issuedAt !== undefined ? issuedAt + maxAge : undefined;
      const ends = [confirmation.notOnOrAfter, conditionsEnd, ageEnd].filter((t) => t !== undefined);
      const notOnOrAfter = Math.min(...ends);
      // Keep the key while the assertion could still be accepted: that is NotOnOrAfter plus the clock skew.
      if (!(await store.consumeOnce(`saml:${assertionId}`, notOnOrAfter + clockSkewMs))) {
        throw reject(`SAML assertion ${assertionId} was already used (replayed assertion); sign in again`);
      }

      const authn = first(assertion, 'AuthnStatement');
      const signIn: SamlSignIn = { nameId, attributes: readAttributes(assertion), notOnOrAfter, issuer };
      const sessionIndex = authn?.$?.SessionIndex;
      if (sessionIndex) signIn.sessionIndex = sessionIndex;
      const classRef = text(first(first(authn, 'AuthnContext'), 'AuthnContextClassRef'));
      if (classRef) signIn.authnContextClassRef = classRef;
      // Read only for the MFA time of a trusted IdP: an odd one is ignored (the sign-in's own time is used then),
      // not a reason to refuse an assertion that is otherwise right.
      const authnInstant = Date.parse(authn?.$?.AuthnInstant ?? '');
      if (!Number.isNaN(authnInstant)) signIn.authnInstant = authnInstant;
      return signIn;
    },

    metadata(): string {
      return saml.generateServiceProviderMetadata(null, null);
    },
  };
}

/** A rejection whose message is already right for a person. */
class Rejection extends Error {}

/** node-saml with its time and audience errors carrying the values that explain them. */
class CheckedSaml extends SAML {
  protected override checkTimestampsValidityError(
    nowMs: number,
    notBefore: string,
    notOnOrAfter: string,
    maxTimeLimitMs?: number,
  ): Error | null {
    const error = super.checkTimestampsValidityError(nowMs, notBefore, notOnOrAfter, maxTimeLimitMs);
    if (!error) return null;
    const now = new Date(nowMs).toISOString();
    const skew = `allowed clock skew ${this.options.acceptedClockSkewMs} ms`;
    if (error.message.includes('not yet valid')) {
      return new Rejection(
        `SAML assertion not yet valid: NotBefore is ${notBefore}, now is ${now} (${skew})`,
      );
    }
    if (error.message.includes('too old') && maxTimeLimitMs) {
      const end = new Date(maxTimeLimitMs).toISOString();
      return new Rejection(
        `SAML assertion expired at ${end}: older than the maximum assertion age; sign in again`,
      );
    }
    return new Rejection(`SAML assertion expired at ${notOnOrAfter} (now ${now}, ${skew}); sign in again`);
  }

  protected override checkAudienceValidityError(
    expected: string,
    restrictions: AudienceRestrictionXML[],
  ): Error | null {
    const error = super.checkAudienceValidityError(expected, restrictions);
    if (!error) return null;
    const audiences = restrictions.flatMap((r) => children(r, 'Audience').map(text)).filter(Boolean);
    if (audiences.length === 0) return new Rejection(`SAML assertion has no audience; expected ${expected}`);
    return new Rejection(`SAML assertion audience is ${audiences.join(', ')}, not ${expected}`);
  }
}

function reject(message: string, cause?: unknown): SesameError {
  return new SesameError('UNAUTHENTICATED', message, cause === undefined ? undefined : { cause });
}

function describe(libraryMessage: string): string {
  const known: [RegExp, string][] = [
    [/multiple assertions/, 'SAML response carries more than one assertion'],
    [/^Missing SAML assertion/, 'SAML response has no assertion'],
    [
      /decryption key/,
      'SAML assertion is encrypted, but this service has no decryption key; turn encryption off',
    ],
    [/No response found|Unknown SAML response/, 'SAMLResponse is not a SAML Response'],
    [
      /signature|ID cannot refer|Referenced node|transforms|ref URI/i,
      'SAML signature invalid (malformed signature)',
    ],
    [/xmldom|Not a valid XML|\nLine: \d+\nColumn:/i, 'SAMLResponse is not well-formed XML'], // xmldom, xml2js
    [/Error parsing (\w+)/, 'SAML assertion has an unreadable timestamp'],
  ];
  const hit = known.find(([pattern]) => pattern.test(libraryMessage));
  return hit ? hit[1] : `SAML response rejected: ${libraryMessage}`;
}

function checkConfig(config: SamlServiceProviderConfig, clockSkewMs: number): void {
  for (const key of ['entityId', 'acsUrl', 'idpSsoUrl'] as const) {
    if (!config[key]) throw new SesameError('INVALID', `SAML: ${key} is required`);
  }
  if (config.idpCertificates.length === 0) {
    throw new SesameError('INVALID', 'SAML: idpCertificates needs at least one PEM certificate of the IdP');
  }
  config.idpCertificates.forEach((pem, index) => {
    try {
      new X509Certificate(pem);
    } catch (cause) {
      throw new SesameError('INVALID', `SAML: idpCertificates[${index}] is not a PEM certificate`, { cause });
    }
  });
  if (!Number.isFinite(clockSkewMs) || clockSkewMs < 0) {
    throw new SesameError('INVALID', 'SAML: clockSkewMs must be a non-negative number of milliseconds');
  }
}

function decode(samlResponse: string): string {
  return Buffer.from(samlResponse, 'base64').toString('utf8');
}

/**
 * Checks of the unsigned envelope before node-saml parses it, for clear messages: base64, XML, a Response,
 * its Destination (and, after verification, its Status). A light scan, not a parser, so these checks only
 * ever reject: everything a sign-in is built from is read from the assertion node-saml verified.
 */
function checkEnvelope(samlResponse: string, acsUrl: string): string {
  const compact = samlResponse.replace(/\s+/g, '');
  if (!compact || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) {
    throw reject('SAMLResponse is not valid base64');
  }
  const xml = decode(compact).replace(/^\uFEFF/, '');
  if (/<!DOCTYPE/i.test(xml)) throw reject('SAMLResponse has a DOCTYPE, which SAML messages must not have');
  const prolog = /^(?:\s+|<\?[\s\S]*?\?>|<!--[\s\S]*?-->)*/.exec(xml)?.[0] ?? '';
  const root = /^<([A-Za-z_][\w.:-]*)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*\/?>/.exec(
    xml.slice(prolog.length),
  );
  if (!root) throw reject('SAMLResponse is not XML');
  const [, name = '', attributes = ''] = root;
  if (name.split(':').pop() !== 'Response')
    throw reject(`SAMLResponse is not a SAML Response (root <${name}>)`);
  const destination = /\sDestination\s*=\s*(?:"([^"]*)"|'([^']*)')/.exec(attributes);
  const value = destination && unescapeXml(destination[1] ?? destination[2] ?? '');
  if (value && value !== acsUrl) {
    throw reject(
      `SAML response Destination is ${value}, not this service's ACS URL ${acsUrl} (wrong recipient)`,
    );
  }
  return xml;
}

/** node-saml reads Status only when there is no assertion; the first StatusCode is the top-level one. */
function checkSuccess(xml: string): void {
  const status = /<(?:[\w.-]+:)?StatusCode\b[^>]*?\sValue\s*=\s*(?:"([^"]*)"|'([^']*)')/.exec(xml);
  const value = status?.[1] ?? status?.[2];
  if (value !== 'urn:oasis:names:tc:SAML:2.0:status:Success') {
    throw reject(`the IdP did not sign you in: status ${value?.split(':').pop() ?? '(none)'}`);
  }
}

function unescapeXml(value: string): string {
  const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
  return value.replace(/&(#x[0-9a-fA-F]+|#\d+|\w+);/g, (whole, ref: string) => {
    if (ref.startsWith('#x')) return String.fromCodePoint(Number.parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return String.fromCodePoint(Number(ref.slice(1)));
    return named[ref] ?? whole;
  });
}

/** The bearer SubjectConfirmation for this ACS that is valid now (saml-profiles §4.1.4.2–3). */
function confirmSubject(subject: XmlNode | undefined, acsUrl: string, clockSkewMs: number) {
  const bearers = children(subject, 'SubjectConfirmation').filter((c) => c.$?.Method === BEARER);
  if (bearers.length === 0) throw reject('SAML assertion has no bearer SubjectConfirmation');
  const now = Date.now();
  const problems: string[] = [];
  for (const bearer of bearers) {
    const data = first(bearer, 'SubjectConfirmationData')?.$ ?? {};
    const notOnOrAfter = time(data.NotOnOrAfter);
    const notBefore = time(data.NotBefore);
    if (data.Recipient !== acsUrl) {
      problems.push(
        `SAML assertion Recipient is ${data.Recipient ?? '(none)'}, not ${acsUrl} (wrong recipient)`,
      );
    } else if (notOnOrAfter === undefined) {
      problems.push('SAML assertion SubjectConfirmationData has no NotOnOrAfter');
    } else if (now - clockSkewMs >= notOnOrAfter) {
      problems.push(`SAML assertion expired at ${data.NotOnOrAfter}; sign in again`);
    } else if (notBefore !== undefined && now + clockSkewMs < notBefore) {
      problems.push(`SAML assertion not yet valid: NotBefore is ${data.NotBefore}`);
    } else {
      return { notOnOrAfter, inResponseTo: data.InResponseTo };
    }
  }
  throw reject(problems[0]!);
}

function checkInResponseTo(found: (string | undefined)[], expected: string | undefined): void {
  const present = found.filter((id): id is string => Boolean(id));
  if (expected === undefined) {
    if (present.length > 0) {
      throw reject(
        `SAML response has unexpected InResponseTo ${present[0]}: no sign-in request is pending here, so only IdP-initiated responses are accepted`,
      );
    }
    return;
  }
  if (present.length === 0) {
    throw reject(
      `SAML response has no InResponseTo (IdP-initiated), but this sign-in expected a reply to ${expected}`,
    );
  }
  const wrong = present.find((id) => id !== expected);
  if (wrong !== undefined) {
    throw reject(`SAML response has unexpected InResponseTo ${wrong}; this sign-in expected ${expected}`);
  }
}

function readAttributes(assertion: XmlNode): Record<string, string[]> {
  const attributes: Record<string, string[]> = {};
  for (const statement of children(assertion, 'AttributeStatement')) {
    for (const attribute of children(statement, 'Attribute')) {
      const name = attribute.$?.Name;
      if (!name) continue;
      const raw = (attribute as Record<string, unknown>).AttributeValue;
      const values = Array.isArray(raw) ? raw.map(valueText) : [];
      attributes[name] = [...(attributes[name] ?? []), ...values];
    }
  }
  return attributes;
}

/** node-saml hands out the verified assertion as xml2js output: prefixes stripped, `$` attributes, `_` text. */
type XmlNode = { $?: Record<string, string | undefined>; _?: unknown; [child: string]: unknown };

function children(node: unknown, name: string): XmlNode[] {
  if (typeof node !== 'object' || node === null) return [];
  const value = (node as Record<string, unknown>)[name];
  return Array.isArray(value) ? value.filter((v): v is XmlNode => typeof v === 'object' && v !== null) : [];
}

function first(node: unknown, name: string): XmlNode | undefined {
  return children(node, name)[0];
}

function xmlChild(node: unknown, name: string): XmlNode | undefined {
  if (typeof node !== 'object' || node === null) return undefined;
  const value = (node as Record<string, unknown>)[name];
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as XmlNode)
    : undefined;
}

function text(node: XmlNode | undefined): string {
  return typeof node?._ === 'string' ? node._.trim() : '';
}

/** An AttributeValue as text: xml2js gives `''` for an empty element and `{ _: text, $: {xsi:type} }` otherwise. */
function valueText(value: unknown): string {
  if (typeof value === 'string') return value;
  const inner = typeof value === 'object' && value !== null ? (value as XmlNode)._ : undefined;
  return typeof inner === 'string' ? inner : '';
}

function time(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw reject(`SAML assertion has an unreadable timestamp: ${value}`);
  return ms;
}
