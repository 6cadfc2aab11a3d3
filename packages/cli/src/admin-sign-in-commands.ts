import { type Command, Option } from 'commander';
import { client, enc, type Out, outputOption, readInput } from './command-kit.ts';
import { CliError, ExitCodes } from './errors.ts';
import { printList, printObject } from './output.ts';
import { readLine } from './prompt.ts';

type MfaSetOptions = { prompt?: string; methods?: string; withoutDevice?: string };

/** `sesame admin mfa show|set`: when and how people are asked for a second factor. */
export function adminMfaCommands(admin: Command): void {
  const mfa = admin
    .command('mfa')
    .description('MFA settings: when to ask, which methods, people without a device');
  mfa
    .command('show')
    .addOption(outputOption())
    .action(async (o: Out) => {
      const { settings } = await (await client()).call<{ settings: object }>('GET', '/api/v1/settings/mfa');
      printObject(settings, o.output);
    });
  mfa
    .command('set')
    .description('change some or all MFA settings')
    .addOption(
      new Option(
        '--prompt <when>',
        'always: at every sign-in; context-change: only from a new device or address',
      ).choices(['always', 'context-change']),
    )
    .option('--methods <list>', 'second factors people may use: totp, webauthn (comma-separated)')
    .addOption(
      new Option(
        '--without-device <what>',
        'someone with no device yet: email-code (a code by email), block, or register (enrol now)',
      ).choices(['email-code', 'block', 'register']),
    )
    .addOption(outputOption())
    .action(async (o: Out & MfaSetOptions) => {
      const body = {
        ...(o.prompt ? { prompt: o.prompt } : {}),
        ...(o.methods ? { methods: splitList(o.methods) } : {}),
        ...(o.withoutDevice ? { withoutDevice: o.withoutDevice } : {}),
      };
      if (Object.keys(body).length === 0)
        throw new CliError('give at least one of --prompt, --methods, --without-device', ExitCodes.INVALID);
      const { settings } = await (await client()).call<{ settings: object }>(
        'PUT',
        '/api/v1/settings/mfa',
        body,
      );
      printObject(settings, o.output);
    });
}

const splitList = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

type SsoOptions = Out & {
  configFile?: string;
  kind?: string;
  name?: string;
  enabled?: boolean;
  issuer?: string;
  clientId?: string;
  clientSecretStdin?: boolean;
  scopes?: string;
  idpSsoUrl?: string;
  idpEntityId?: string;
  idpCertificate?: string[];
  mfa?: string;
  allowIdpInitiated?: boolean;
  allowInsecureHttp?: boolean;
};

/**
 * The request body: --config-file first, the flags on top. `config` holds the protocol settings; the server
 * replaces a provider's config as a whole, so an update starts from `current` (the stored one, whose secret
 * the server keeps when none is given).
 */
export async function identityProviderBody(
  id: string | undefined,
  o: SsoOptions,
  current?: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  let base: Record<string, unknown> = {};
  if (o.configFile) {
    try {
      base = JSON.parse(await readInput(o.configFile)) as Record<string, unknown>;
    } catch (error) {
      if (error instanceof CliError) throw error;
      throw new CliError(`${o.configFile} is not JSON: ${(error as Error).message}`, ExitCodes.INVALID);
    }
    const isObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
    if (!isObject(base)) throw new CliError(`${o.configFile} must hold a JSON object`, ExitCodes.INVALID);
    if (base.config !== undefined && !isObject(base.config))
      throw new CliError(`${o.configFile}: "config" must be a JSON object`, ExitCodes.INVALID);
  }
  const { clientSecret: _hidden, ...stored } = current ?? {};
  const config: Record<string, unknown> = { ...((base.config as Record<string, unknown>) ?? stored) };
  const set = (key: string, value: unknown) => {
    if (value !== undefined) config[key] = value;
  };
  set('issuer', o.issuer);
  set('clientId', o.clientId);
  if (o.clientSecretStdin) set('clientSecret', (await readLine()).trim());
  set('scopes', o.scopes === undefined ? undefined : splitList(o.scopes));
  set('idpSsoUrl', o.idpSsoUrl);
  set('idpEntityId', o.idpEntityId);
  if (o.idpCertificate?.length)
    set('idpCertificates', await Promise.all(o.idpCertificate.map((file) => readInput(file))));
  set('mfa', o.mfa);
  set('allowIdpInitiated', o.allowIdpInitiated);
  set('allowInsecureHttp', o.allowInsecureHttp);
  const changed = Object.keys(config).some((key) => config[key] !== stored[key]) || base.config !== undefined;
  return {
    ...base,
    ...(id === undefined ? {} : { id }),
    ...(o.kind ? { kind: o.kind } : {}),
    ...(o.name ? { name: o.name } : {}),
    ...(o.enabled === undefined ? {} : { enabled: o.enabled }),
    ...(changed ? { config } : {}),
  };
}

/** `sesame admin sso list|create|update|delete`: OIDC and SAML identity providers. */
export function adminSsoCommands(admin: Command): void {
  const sso = admin.command('sso').description('single sign-on: OIDC and SAML identity providers');
  sso
    .command('list')
    .addOption(outputOption())
    .action(async (o: Out) => {
      const { providers } = await (await client()).call<{ providers: Record<string, unknown>[] }>(
        'GET',
        '/api/v1/identity-providers',
      );
      printList(
        providers,
        [
          ['id', 'ID'],
          ['kind', 'KIND'],
          ['name', 'NAME'],
          ['enabled', 'ENABLED'],
        ],
        o.output,
        'providers',
      );
    });
  for (const verb of ['create', 'update'] as const) {
    sso
      .command(verb)
      .description(
        verb === 'create'
          ? 'add an identity provider: --config-file <json> with everything, or the common flags'
          : 'change an identity provider (only what is given changes)',
      )
      .argument('<id>', 'a short name used in its URLs (/sso/<id>/…) and in `sesame login --sso <id>`')
      .option('--config-file <json>', 'the provider as JSON: { kind, name, enabled, config: {…} }')
      .addOption(new Option('--kind <kind>').choices(['oidc', 'saml']))
      .option('--name <text>', 'the name on the sign-in button')
      .option('--enabled', 'offer it on the sign-in page')
      .option('--no-enabled', 'keep it but do not offer it')
      .option(
        '--issuer <url>',
        'OIDC: the issuer URL (discovery at <issuer>/.well-known/openid-configuration)',
      )
      .option('--client-id <id>', 'OIDC: the client id registered at the provider')
      .option('--client-secret-stdin', 'OIDC: read the client secret from the first line of standard input')
      .option('--scopes <list>', 'OIDC: extra scopes, comma-separated (e.g. groups)')
      .option('--idp-sso-url <url>', 'SAML: the identity provider single sign-on URL (HTTP-Redirect)')
      .option('--idp-entity-id <id>', "SAML: the identity provider's entity id (Issuer)")
      .option('--idp-certificate <pem-file...>', 'SAML: the signing certificate(s), PEM')
      .option('--allow-idp-initiated', 'SAML: accept sign-ins started at the IdP (portal links)')
      .addOption(
        new Option(
          '--mfa <mode>',
          "require: Sesame's own MFA on top; trust-idp: the IdP's MFA counts",
        ).choices(['require', 'trust-idp']),
      )
      .addOption(
        new Option('--allow-insecure-http', 'OIDC: allow an http:// issuer on loopback (tests)').hideHelp(),
      )
      .addOption(outputOption())
      .action(async (id: string, o: SsoOptions) => {
        const api = await client();
        let current: Record<string, unknown> | undefined;
        if (verb === 'update') {
          const { providers } = await api.call<{
            providers: { id: string; config: Record<string, unknown> }[];
          }>('GET', '/api/v1/identity-providers');
          current = providers.find((p) => p.id === id)?.config;
          if (!current) throw new CliError(`no identity provider "${id}"`, ExitCodes.NOT_FOUND);
        }
        const body = await identityProviderBody(verb === 'create' ? id : undefined, o, current);
        if (verb === 'create' && !body.kind)
          throw new CliError('give --kind oidc|saml (or "kind" in --config-file)', ExitCodes.INVALID);
        const { provider } = await (verb === 'create'
          ? api.call<{ provider: object }>('POST', '/api/v1/identity-providers', body)
          : api.call<{ provider: object }>('PUT', `/api/v1/identity-providers/${enc(id)}`, body));
        printObject(provider, o.output === 'table' ? 'json' : o.output);
      });
  }
  sso
    .command('delete')
    .argument('<id>')
    .action(async (id: string) => {
      await (await client()).call('DELETE', `/api/v1/identity-providers/${enc(id)}`);
    });
}
