// An SSO sign-in whose second factor is a code by email (no MFA device, withoutDevice: email-code), against a
// real OIDC provider and a real SMTP server: the code goes to the address Sesame held before this sign-in.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestServer, type TestServer } from '../test-server.ts';
import { startTestOidcProvider } from './oidc-provider.test-support.ts';
import { type SmtpSink, startSmtpSink } from './smtp-sink.test-support.ts';
import { getWithoutRedirect, landingOf } from './sso-landing.test-support.ts';

let ts: TestServer;
let sink: SmtpSink;
let op: Awaited<ReturnType<typeof startTestOidcProvider>>;

before(async () => {
  sink = await startSmtpSink();
  ts = await startTestServer({
    file: { smtp: { host: '127.0.0.1', port: sink.port, from: 'sesame@example.com' } },
  });
  op = await startTestOidcProvider({
    clientId: 'sesame',
    clientSecret: 's3cret',
    redirectUris: [`${ts.url}/sso/corp/callback`],
  });
  const admin = (method: string, path: string, json: unknown) =>
    ts.api(method, path, { token: ts.adminToken, json });
  const provider = await admin('POST', '/api/v1/identity-providers', {
    id: 'corp',
    kind: 'oidc',
    name: 'Corp',
    config: {
      issuer: op.issuer,
      clientId: 'sesame',
      clientSecret: 's3cret',
      allowInsecureHttp: true,
      mfa: 'require',
    },
  });
  assert.equal(provider.status, 200, provider.text);
  const settings = await admin('PUT', '/api/v1/settings/mfa', {
    prompt: 'always',
    methods: ['totp', 'webauthn'],
    withoutDevice: 'email-code',
  });
  assert.equal(settings.status, 200, settings.text);
});
after(async () => {
  await op.close();
  await ts.close();
  await sink.close();
});

/** Signs in through the IdP as carol, up to Sesame's MFA step (the code is mailed then). */
async function ssoSignIn(): Promise<void> {
  const start = await landingOf(await getWithoutRedirect(`${ts.url}/sso/corp/start`));
  const callback = await op.followLogin(start.location, { accountId: 'carol', amr: ['pwd'] });
  await getWithoutRedirect(`${ts.url}${callback.pathname}${callback.search}`, start.device);
}

const codesTo = () =>
  sink.messages.filter((m) => m.subject === 'Your Sesame sign-in code').map((m) => m.to.join());

test('a changed or unverified address at the IdP does not receive the sign-in code', async () => {
  op.setAccount('carol', { preferred_username: 'carol', email: 'carol@corp.example', email_verified: true });
  await ssoSignIn();
  await sink.waitForMessage((m) => m.to.includes('carol@corp.example'));
  // Someone with only carol's IdP password edits the address there (unverified), then (verified) signs in.
  for (const email_verified of [false, true]) {
    op.setAccount('carol', { preferred_username: 'carol', email: 'mallory@evil.example', email_verified });
    await ssoSignIn();
  }
  await ssoSignIn(); // and again: the failed sign-ins changed nothing
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.deepEqual(codesTo(), Array(4).fill('carol@corp.example'));
  const carol = await ts.api('GET', '/api/v1/users/carol', { token: ts.adminToken });
  assert.equal(
    (carol.body.user as { email: string }).email,
    'carol@corp.example',
    'the IdP address is taken only by a complete sign-in',
  );
});
