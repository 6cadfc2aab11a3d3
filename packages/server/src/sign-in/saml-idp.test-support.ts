import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real SAML 2.0 identity provider for tests, built on samlify: it parses the SP's HTTP-Redirect
 * AuthnRequest (schema-validated with xmllint-wasm) and answers with an HTTP-POST Response built from
 * samlify's login-response template, signed by samlify (xml-crypto) with a key made at test time.
 *
 * samlify is loaded through `require` with the narrow types below on purpose: its type declarations
 * import @xmldom/xmldom, whose `/// <reference lib="dom" />` would put the DOM into the whole server
 * program's types.
 */
type Binding = { Binding: string; Location: string };
type SamlifyEntity = object;
type SamlifyIdp = SamlifyEntity & {
  createLoginResponse(
    sp: SamlifyEntity,
    requestInfo: object,
    binding: 'post',
    user: object,
    options: { customTagReplacement: (template: string) => { id: string; context: string } },
  ): Promise<{ context: string }>;
  parseLoginRequest(
    sp: SamlifyEntity,
    binding: 'redirect',
    request: { query: Record<string, string>; octetString: string },
  ): Promise<{ extract: { request?: { id?: string } } }>;
};
type Samlify = {
  IdentityProvider(settings: Record<string, unknown>): SamlifyIdp;
  ServiceProvider(settings: Record<string, unknown>): SamlifyEntity;
  setSchemaValidator(validator: { validate: (xml: string) => Promise<unknown> }): void;
  SamlLib: {
    defaultLoginResponseTemplate: { context: string };
    defaultAttributeStatementTemplate: { context: string };
    replaceTagsByValue(xml: string, values: Record<string, string | undefined>): string;
  };
};

const require = createRequire(import.meta.url);
const samlify = require('samlify') as Samlify;
const schema = require('@authenio/samlify-xmllint-wasm') as { validate: (xml: string) => Promise<unknown> };
samlify.setSchemaValidator(schema);

const POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const EMAIL = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
const PASSWORD = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';
const FIVE_MINUTES_MS = 5 * 60_000;

export type TestIdpResponse = {
  nameId: string;
  attributes: Record<string, string | string[]>;
  inResponseTo?: string;
  audience?: string;
  /** SubjectConfirmationData Recipient; also the Response Destination unless `destination` is given. */
  recipient?: string;
  destination?: string;
  notBefore?: Date;
  notOnOrAfter?: Date;
  sessionIndex?: string;
  /** When the IdP says it authenticated the person (AuthnInstant); now by default. */
  authnInstant?: Date;
  signWith?: 'idp' | 'other' | 'none';
  signAssertion?: boolean;
  signResponse?: boolean;
};

/** A self-signed RSA certificate and its key, made with openssl (never committed). */
export function makeKeyPair(commonName = 'test'): { privateKeyPem: string; certificatePem: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sesame-saml-'));
  try {
    const keyFile = join(dir, 'key.pem');
    const certFile = join(dir, 'cert.pem');
    const args = [...'req -x509 -newkey rsa:2048 -nodes -days 2 -subj'.split(' '), `/CN=${commonName}`];
    execFileSync('openssl', [...args, '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
    return { privateKeyPem: readFileSync(keyFile, 'utf8'), certificatePem: readFileSync(certFile, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function createTestIdp({ spEntityId, acsUrl }: { spEntityId: string; acsUrl: string }) {
  const entityId = 'https://idp.test/saml/metadata';
  const ssoUrl = 'https://idp.test/saml/sso';
  const own = makeKeyPair('sesame test idp');
  const stranger = makeKeyPair('someone else');
  const idpWith = (keys: typeof own) =>
    samlify.IdentityProvider({
      entityID: entityId,
      privateKey: keys.privateKeyPem,
      signingCert: keys.certificatePem,
      singleSignOnService: [{ Binding: REDIRECT, Location: ssoUrl } satisfies Binding],
      nameIDFormat: [EMAIL],
      wantAuthnRequestsSigned: false,
      singleLogoutService: [{ Binding: REDIRECT, Location: `${ssoUrl}/logout` } satisfies Binding],
      // No loginResponseTemplate: with `attributes` samlify bakes one fixed, single-valued AttributeStatement
      // into it (and warns without). Its default template reaches `render` with `{AttributeStatement}` intact.
    });
  const idps = { idp: idpWith(own), other: idpWith(stranger) };
  const spWith = (signAssertion: boolean, signResponse: boolean) =>
    samlify.ServiceProvider({
      entityID: spEntityId,
      assertionConsumerService: [{ Binding: POST, Location: acsUrl } satisfies Binding],
      authnRequestsSigned: false,
      wantAssertionsSigned: signAssertion,
      wantMessageSigned: signResponse,
    });

  /** samlify's login-response template with every tag filled, statements included. */
  function render(template: string, response: TestIdpResponse): { id: string; context: string } {
    const now = new Date();
    const id = `_${randomUUID()}`;
    const notOnOrAfter = (response.notOnOrAfter ?? new Date(now.getTime() + FIVE_MINUTES_MS)).toISOString();
    const recipient = response.recipient ?? acsUrl;
    const filled = samlify.SamlLib.replaceTagsByValue(template, {
      ID: id,
      AssertionID: `_${randomUUID()}`,
      Destination: response.destination ?? recipient,
      Audience: response.audience ?? spEntityId,
      SubjectRecipient: recipient,
      Issuer: entityId,
      IssueInstant: now.toISOString(),
      StatusCode: 'urn:oasis:names:tc:SAML:2.0:status:Success',
      ConditionsNotBefore: (response.notBefore ?? now).toISOString(),
      ConditionsNotOnOrAfter: notOnOrAfter,
      SubjectConfirmationDataNotOnOrAfter: notOnOrAfter,
      NameIDFormat: EMAIL,
      NameID: response.nameId,
      InResponseTo: response.inResponseTo, // undefined drops the attribute: IdP-initiated
    });
    const authn =
      `<saml:AuthnStatement AuthnInstant="${(response.authnInstant ?? now).toISOString()}" SessionIndex="${escapeXml(response.sessionIndex ?? id)}">` +
      `<saml:AuthnContext><saml:AuthnContextClassRef>${PASSWORD}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>`;
    const context = filled
      .replace('{AuthnStatement}', authn)
      .replace('{AttributeStatement}', attributeStatement(response.attributes));
    return { id, context };
  }

  return {
    entityId,
    ssoUrl,
    certificatePem: own.certificatePem,
    otherCertificatePem: stranger.certificatePem,

    /** A base64 SAMLResponse for the HTTP-POST binding. */
    async respond(response: TestIdpResponse): Promise<string> {
      const { signWith = 'idp', signAssertion = true, signResponse = false } = response;
      const template = samlify.SamlLib.defaultLoginResponseTemplate.context;
      if (signWith === 'none' || (!signAssertion && !signResponse)) {
        return Buffer.from(render(template, response).context, 'utf8').toString('base64');
      }
      const { context } = await idps[signWith].createLoginResponse(
        spWith(signAssertion, signResponse),
        {},
        'post',
        {},
        { customTagReplacement: (t) => render(t, response) },
      );
      return context;
    },

    /** Parses (and schema-validates) the SP's HTTP-Redirect AuthnRequest. */
    async parseRequest(redirectUrl: string): Promise<{ id: string; relayState?: string }> {
      const url = new URL(redirectUrl);
      const query = Object.fromEntries(url.searchParams);
      const parsed = await idps.idp.parseLoginRequest(spWith(true, false), 'redirect', {
        query,
        octetString: url.search.slice(1),
      });
      const id = parsed.extract.request?.id;
      if (!id) throw new Error('the AuthnRequest has no ID');
      return query.RelayState === undefined ? { id } : { id, relayState: query.RelayState };
    },
  };
}

/** Validates a base64 SAMLResponse against the SAML 2.0 XSD (xmllint-wasm: about a second per call). */
export async function assertSchemaValid(samlResponse: string): Promise<void> {
  await schema.validate(Buffer.from(samlResponse, 'base64').toString('utf8'));
}

/** Decodes a base64 SAMLResponse, lets `edit` change the XML, encodes it again (for tampering tests). */
export function editResponse(samlResponse: string, edit: (xml: string) => string): string {
  return Buffer.from(edit(Buffer.from(samlResponse, 'base64').toString('utf8')), 'utf8').toString('base64');
}

function attributeStatement(attributes: Record<string, string | string[]>): string {
  const rendered = Object.entries(attributes).map(([name, value]) => {
    const values = (Array.isArray(value) ? value : [value]).map(
      (v) =>
        '<saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" ' +
        `xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">${escapeXml(v)}</saml:AttributeValue>`,
    );
    return `<saml:Attribute Name="${escapeXml(name)}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">${values.join('')}</saml:Attribute>`;
  });
  if (rendered.length === 0) return '';
  return samlify.SamlLib.defaultAttributeStatementTemplate.context.replace('{Attributes}', rendered.join(''));
}

function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
