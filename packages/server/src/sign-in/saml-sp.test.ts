import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SesameError } from '../errors.ts';
import { assertSchemaValid, createTestIdp, editResponse } from './saml-idp.test-support.ts';
import { createSamlServiceProvider, type SamlServiceProviderConfig } from './saml-sp.ts';

const SP_ENTITY_ID = 'https://sesame.test/saml/metadata';
const ACS_URL = 'https://sesame.test/saml/acs';
const MINUTE_MS = 60_000;
const AWS = 'https://aws.amazon.com/SAML/Attributes';
const ATTRIBUTES = {
  [`${AWS}/RoleSessionName`]: 'alice@example.com',
  [`${AWS}/SessionDuration`]: '3600',
  [`${AWS}/PrincipalTag:AppGroupName`]: 'payments',
  [`${AWS}/PrincipalTag:AppGroupName2`]: 'ledger & <co>',
  [`${AWS}/Role`]: [
    'arn:aws:iam::111122223333:role/ProductionAccess,arn:aws:iam::111122223333:saml-provider/Okta',
    'arn:aws:iam::111122223333:role/DevelopmentAccess,arn:aws:iam::111122223333:saml-provider/Okta',
  ],
};

const idp = createTestIdp({ spEntityId: SP_ENTITY_ID, acsUrl: ACS_URL });

function memoryStore() {
  const keys = new Map<string, number>();
  return {
    keys,
    async consumeOnce(key: string, expiresAt: number): Promise<boolean> {
      if (keys.has(key)) return false;
      keys.set(key, expiresAt);
      return true;
    },
  };
}

function serviceProvider(overrides: Partial<SamlServiceProviderConfig> = {}) {
  const store = memoryStore();
  const sp = createSamlServiceProvider({
    entityId: SP_ENTITY_ID,
    acsUrl: ACS_URL,
    idpSsoUrl: idp.ssoUrl,
    idpCertificates: [idp.certificatePem],
    idpEntityId: idp.entityId,
    store,
    ...overrides,
  });
  return { sp, store };
}

const respond = (options: Partial<Parameters<typeof idp.respond>[0]> = {}) =>
  idp.respond({ nameId: 'alice@example.com', attributes: ATTRIBUTES, ...options });

async function rejects(promise: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof SesameError, `expected a SesameError, got ${String(error)}`);
    assert.equal(error.code, 'UNAUTHENTICATED');
    assert.match(error.message, message);
    return true;
  });
}

describe('SAML service provider: accepted sign-ins', () => {
  test('SP-initiated: AuthnRequest → IdP → Response with every attribute value', async () => {
    const { sp, store } = serviceProvider();
    const { url, requestId } = await sp.loginUrl({ relayState: 'r-123' });
    assert.ok(url.startsWith(`${idp.ssoUrl}?SAMLRequest=`));
    const request = await idp.parseRequest(url);
    assert.deepEqual(request, { id: requestId, relayState: 'r-123' });

    const samlResponse = await respond({ inResponseTo: request.id, sessionIndex: 'session-7' });
    await assertSchemaValid(samlResponse);
    const signIn = await sp.validate({ samlResponse, relayState: 'r-123', expectedRequestId: requestId });

    assert.equal(signIn.nameId, 'alice@example.com');
    assert.equal(signIn.issuer, idp.entityId);
    assert.equal(signIn.sessionIndex, 'session-7');
    assert.equal(
      signIn.authnContextClassRef,
      'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport',
    );
    assert.deepEqual(signIn.attributes, {
      [`${AWS}/RoleSessionName`]: ['alice@example.com'],
      [`${AWS}/SessionDuration`]: ['3600'],
      [`${AWS}/PrincipalTag:AppGroupName`]: ['payments'],
      [`${AWS}/PrincipalTag:AppGroupName2`]: ['ledger & <co>'],
      [`${AWS}/Role`]: ATTRIBUTES[`${AWS}/Role`],
    });
    const notOnOrAfter = signIn.notOnOrAfter ?? 0;
    assert.ok(notOnOrAfter > Date.now() && notOnOrAfter <= Date.now() + 5 * MINUTE_MS);
    const [key, expiresAt] = [...store.keys][0] ?? [];
    assert.match(key ?? '', /^saml:_/);
    assert.equal(expiresAt, notOnOrAfter + MINUTE_MS, 'kept for NotOnOrAfter plus the clock skew');
  });

  test('IdP-initiated (no InResponseTo) is accepted when no request is pending', async () => {
    const { sp } = serviceProvider();
    const signIn = await sp.validate({ samlResponse: await respond() });
    assert.equal(signIn.nameId, 'alice@example.com');
  });

  test('response and assertion both signed', async () => {
    const { sp } = serviceProvider();
    const signIn = await sp.validate({ samlResponse: await respond({ signResponse: true }) });
    assert.deepEqual(signIn.attributes[`${AWS}/PrincipalTag:AppGroupName`], ['payments']);
  });

  test('a signed response alone is enough when wantAssertionsSigned is false', async () => {
    const { sp } = serviceProvider({ wantAssertionsSigned: false });
    const samlResponse = await respond({ signAssertion: false, signResponse: true });
    assert.equal((await sp.validate({ samlResponse })).nameId, 'alice@example.com');
  });

  test('any configured certificate verifies (key rollover)', async () => {
    const { sp } = serviceProvider({ idpCertificates: [idp.otherCertificatePem, idp.certificatePem] });
    assert.equal((await sp.validate({ samlResponse: await respond() })).nameId, 'alice@example.com');
  });
});

describe('SAML service provider: rejections say what was wrong', () => {
  test('unsigned, whether or not signed assertions are required', async () => {
    const samlResponse = await respond({ signWith: 'none' });
    await rejects(serviceProvider().sp.validate({ samlResponse }), /no signature/);
    const lenient = serviceProvider({ wantAssertionsSigned: false }).sp;
    await rejects(lenient.validate({ samlResponse }), /no signature/);
  });

  test('a second, unsigned assertion wrapped in beside the signed one', async () => {
    const { sp } = serviceProvider();
    const forged = (xml: string) => {
      const signed = /<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(xml)?.[0] ?? '';
      const evil = signed
        .replace(/<ds:Signature[\s\S]*<\/ds:Signature>/, '')
        .replace(/ID="[^"]*"/, 'ID="_evil"');
      return xml.replace(signed, evil.replace('alice@example.com', 'admin@example.com') + signed);
    };
    const samlResponse = editResponse(await respond(), forged);
    await rejects(sp.validate({ samlResponse }), /more than one assertion/);
  });

  test('only the response signed while signed assertions are required', async () => {
    const { sp } = serviceProvider();
    const samlResponse = await respond({ signAssertion: false, signResponse: true });
    await rejects(sp.validate({ samlResponse }), /assertion has no signature: only the response is signed/);
  });

  test('signed by another key', async () => {
    const { sp } = serviceProvider();
    await rejects(sp.validate({ samlResponse: await respond({ signWith: 'other' }) }), /signature invalid/);
  });

  test('attribute changed after signing', async () => {
    const { sp } = serviceProvider();
    const signed = await respond();
    const tampered = editResponse(signed, (xml) => xml.replace('>payments<', '>admins<'));
    assert.notEqual(tampered, signed);
    await rejects(sp.validate({ samlResponse: tampered }), /signature invalid/);
  });

  test('wrong audience', async () => {
    const { sp } = serviceProvider();
    const samlResponse = await respond({ audience: 'https://other.test/sp' });
    await rejects(
      sp.validate({ samlResponse }),
      /audience is https:\/\/other\.test\/sp, not https:\/\/sesame\.test/,
    );
  });

  test('wrong Destination', async () => {
    const { sp } = serviceProvider();
    const samlResponse = await respond({ recipient: 'https://other.test/acs' });
    await rejects(
      sp.validate({ samlResponse }),
      /Destination is https:\/\/other\.test\/acs.*wrong recipient/,
    );
  });

  test('wrong Recipient inside the signed assertion', async () => {
    const { sp } = serviceProvider();
    const samlResponse = await respond({ recipient: 'https://other.test/acs', destination: ACS_URL });
    await rejects(sp.validate({ samlResponse }), /Recipient is https:\/\/other\.test\/acs.*wrong recipient/);
  });

  test('expired', async () => {
    const { sp } = serviceProvider();
    const notOnOrAfter = new Date(Date.now() - 10 * MINUTE_MS);
    const samlResponse = await respond({ notBefore: new Date(Date.now() - 20 * MINUTE_MS), notOnOrAfter });
    await rejects(sp.validate({ samlResponse }), new RegExp(`expired at ${notOnOrAfter.toISOString()}`));
  });

  test('too old for maxAssertionAgeMs', async () => {
    const { sp } = serviceProvider({ maxAssertionAgeMs: 1, clockSkewMs: 0 });
    const samlResponse = await respond();
    await new Promise((resolve) => setTimeout(resolve, 5));
    await rejects(sp.validate({ samlResponse }), /expired at .*maximum assertion age/);
  });

  test('not yet valid', async () => {
    const { sp } = serviceProvider();
    const notBefore = new Date(Date.now() + 10 * MINUTE_MS);
    const samlResponse = await respond({ notBefore, notOnOrAfter: new Date(Date.now() + 20 * MINUTE_MS) });
    await rejects(sp.validate({ samlResponse }), /not yet valid/);
  });

  test('wrong InResponseTo', async () => {
    const { sp } = serviceProvider();
    const { requestId } = await sp.loginUrl({});
    const samlResponse = await respond({ inResponseTo: '_someone-elses-request' });
    await rejects(
      sp.validate({ samlResponse, expectedRequestId: requestId }),
      /unexpected InResponseTo _someone-elses-request/,
    );
  });

  test('IdP-initiated response while a request is pending', async () => {
    const { sp } = serviceProvider();
    const { requestId } = await sp.loginUrl({});
    await rejects(
      sp.validate({ samlResponse: await respond(), expectedRequestId: requestId }),
      /no InResponseTo/,
    );
  });

  test('InResponseTo when no request is pending', async () => {
    const { sp } = serviceProvider();
    const samlResponse = await respond({ inResponseTo: '_stale-request' });
    await rejects(sp.validate({ samlResponse }), /unexpected InResponseTo _stale-request/);
  });

  test('replay of the same response', async () => {
    const { sp } = serviceProvider();
    const samlResponse = await respond();
    await sp.validate({ samlResponse });
    await rejects(sp.validate({ samlResponse }), /replayed assertion/);
  });

  test('issuer other than the configured IdP', async () => {
    const { sp } = serviceProvider({ idpEntityId: 'https://idp.other.test' });
    await rejects(
      sp.validate({ samlResponse: await respond() }),
      /issuer is https:\/\/idp\.test.*not the configured IdP/,
    );
  });

  test('garbage base64', async () => {
    const { sp } = serviceProvider();
    await rejects(sp.validate({ samlResponse: '%%% not base64 %%%' }), /not valid base64/);
    await rejects(sp.validate({ samlResponse: '' }), /not valid base64/);
  });

  test('not XML, or XML that is not a SAML Response', async () => {
    const { sp } = serviceProvider();
    const encode = (text: string) => Buffer.from(text, 'utf8').toString('base64');
    await rejects(sp.validate({ samlResponse: encode('{"hello": "world"}') }), /not XML/);
    await rejects(
      sp.validate({ samlResponse: encode('<html><body>hi</body></html>') }),
      /not a SAML Response/,
    );
    const truncated = editResponse(await respond(), (xml) => xml.slice(0, xml.length / 2));
    await rejects(sp.validate({ samlResponse: truncated }), /not well-formed XML/);
    const withDoctype =
      '<!DOCTYPE r [<!ENTITY e "e">]><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>';
    await rejects(sp.validate({ samlResponse: encode(withDoctype) }), /DOCTYPE/);
  });

  test('a signed assertion inside a response whose status is not Success', async () => {
    const { sp } = serviceProvider();
    const samlResponse = editResponse(await respond(), (xml) =>
      xml.replace('status:Success', 'status:Responder'),
    );
    await rejects(sp.validate({ samlResponse }), /IdP did not sign you in: status Responder/);
  });
});

describe('SAML service provider: requests, metadata, configuration', () => {
  test('metadata names the entity ID and the ACS URL', () => {
    const { sp } = serviceProvider();
    const xml = sp.metadata();
    assert.match(xml, /entityID="https:\/\/sesame\.test\/saml\/metadata"/);
    assert.match(xml, /AssertionConsumerService[^>]*Location="https:\/\/sesame\.test\/saml\/acs"/);
    assert.match(xml, /WantAssertionsSigned="true"/);
  });

  test('each login URL carries a fresh request ID; over-long RelayState is refused', async () => {
    const { sp } = serviceProvider();
    const [a, b] = await Promise.all([sp.loginUrl(), sp.loginUrl()]);
    assert.notEqual(a.requestId, b.requestId);
    assert.equal((await idp.parseRequest(b.url)).id, b.requestId);
    await assert.rejects(sp.loginUrl({ relayState: 'x'.repeat(81) }), { code: 'INVALID' });
  });

  test('configuration problems are INVALID', () => {
    assert.throws(() => serviceProvider({ idpCertificates: [] }), { code: 'INVALID' });
    assert.throws(() => serviceProvider({ idpCertificates: ['not a certificate'] }), { code: 'INVALID' });
    assert.throws(() => serviceProvider({ clockSkewMs: -1 }), { code: 'INVALID' });
  });
});
