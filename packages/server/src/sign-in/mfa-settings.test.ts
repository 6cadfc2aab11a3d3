import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { SesameError } from '../errors.ts';
import { ADMIN, ALICE, rejects, serviceFixture } from '../services/service-fixture.ts';
import { SesameStoreError } from '../store/index.ts';
import { DEFAULT_MFA_SETTINGS, type MfaSettings, parseMfaSettings } from './mfa-settings.ts';
import { createMfaSettingsService } from './mfa-settings-service.ts';

/** The INVALID error parseMfaSettings throws for `input`: its message and the paths of its details. */
function rejected(input: unknown, current?: MfaSettings): { message: string; paths: string[] } {
  try {
    parseMfaSettings(input, current);
  } catch (error) {
    assert.ok(error instanceof SesameError, String(error));
    assert.equal(error.code, 'INVALID', error.message);
    const details = (error.details ?? []) as { path: string; message: string }[];
    return { message: error.message, paths: details.map((d) => d.path) };
  }
  assert.fail(`expected ${JSON.stringify(input)} to be rejected`);
}

describe('MFA settings: parsing', () => {
  test('the default is strict: every sign-in, both methods, register a device first', () => {
    assert.deepEqual(DEFAULT_MFA_SETTINGS, {
      prompt: 'always',
      methods: ['totp', 'webauthn'],
      withoutDevice: 'register',
    });
    assert.deepEqual(parseMfaSettings({}), DEFAULT_MFA_SETTINGS);
  });

  test('a partial update keeps the rest of the current settings', () => {
    const current: MfaSettings = { prompt: 'context-change', methods: ['webauthn'], withoutDevice: 'block' };
    assert.deepEqual(parseMfaSettings({ withoutDevice: 'email-code' }, current), {
      prompt: 'context-change',
      methods: ['webauthn'],
      withoutDevice: 'email-code',
    });
    assert.deepEqual(parseMfaSettings({ methods: ['totp'], prompt: 'always' }, current), {
      prompt: 'always',
      methods: ['totp'],
      withoutDevice: 'block',
    });
  });

  test('the answer does not share its methods list with the input or the current settings', () => {
    const current: MfaSettings = { prompt: 'always', methods: ['totp'], withoutDevice: 'block' };
    const kept = parseMfaSettings({}, current);
    kept.methods.push('webauthn');
    assert.deepEqual(current.methods, ['totp'], 'changing the result changed the current settings');
    const list: MfaSettings['methods'] = ['webauthn'];
    const given = parseMfaSettings({ methods: list });
    given.methods.push('totp');
    assert.deepEqual(list, ['webauthn'], 'changing the result changed the input');
  });

  test('anything but a JSON object is refused', () => {
    for (const input of [null, undefined, 'always', 42, ['always'], true]) {
      assert.match(rejected(input).message, /MFA settings must be a JSON object/, JSON.stringify(input));
    }
  });

  test('an unknown setting is named, with the known ones', () => {
    const { message, paths } = rejected({ prompt: 'always', remember: true });
    assert.match(
      message,
      /^MFA settings rejected: remember: unknown setting \(known: prompt, methods, withoutDevice\)$/,
    );
    assert.deepEqual(paths, ['remember']);
  });

  test('a value outside its set is named with the allowed values', () => {
    assert.match(
      rejected({ prompt: 'sometimes' }).message,
      /prompt: must be one of "always", "context-change"/,
    );
    assert.match(
      rejected({ withoutDevice: 'allow' }).message,
      /withoutDevice: must be one of "email-code", "block", "register"/,
    );
    assert.match(rejected({ prompt: null }).message, /prompt: must be one of/);
    assert.match(
      rejected({ prompt: 'ALWAYS' }).message,
      /prompt: must be one of/,
      'values are case-sensitive',
    );
  });

  test('methods must be a non-empty list of distinct known methods', () => {
    for (const methods of [[], 'totp', ['sms'], ['totp', 'totp'], [null], { totp: true }, ['TOTP']]) {
      const { message, paths } = rejected({ methods });
      assert.match(
        message,
        /methods: must be a non-empty list of distinct methods from "totp", "webauthn"/,
        JSON.stringify(methods),
      );
      assert.deepEqual(paths, ['methods']);
    }
  });

  test('every problem is reported at once, each with its path', () => {
    const { message, paths } = rejected({ prompt: 'never', methods: [], withoutDevice: 'skip', extra: 1 });
    assert.deepEqual(paths.toSorted(), ['extra', 'methods', 'prompt', 'withoutDevice']);
    for (const path of paths) assert.match(message, new RegExp(`${path}: `));
  });
});

describe('MFA settings: the service', () => {
  let f: Awaited<ReturnType<typeof serviceFixture>>;
  const deps = (mailConfigured = false) => ({
    store: f.store,
    guard: f.guard,
    audit: f.audit,
    arn: f.arn,
    mailConfigured,
    log: f.log,
    now: f.now,
  });
  const service = (mailConfigured = false) => createMfaSettingsService(deps(mailConfigured));

  beforeEach(async () => {
    f = await serviceFixture();
  });
  afterEach(() => f.store.close());

  test('reading and changing the settings need sesame:GetMfaSettings / sesame:UpdateMfaSettings', async () => {
    const s = service();
    await rejects(
      s.get(ALICE),
      'FORBIDDEN',
      /sesame:GetMfaSettings on arn:aws:sesame:local:000000000000:setting\/mfa/,
    );
    await rejects(s.update(ALICE, { prompt: 'context-change' }), 'FORBIDDEN', /sesame:UpdateMfaSettings/);
    assert.deepEqual(await s.get(ADMIN), DEFAULT_MFA_SETTINGS, 'a refused update must change nothing');
    const denied = (await f.store.listAudit({ actor: 'alice' })).map((e) => `${e.action} ${e.outcome}`);
    assert.deepEqual(denied, ['sesame:GetMfaSettings denied', 'sesame:UpdateMfaSettings denied']);
  });

  test('an update is stored, audited and used for the next sign-in', async () => {
    const s = service();
    const next = await s.update(ADMIN, { prompt: 'context-change', methods: ['webauthn'] });
    assert.deepEqual(next, { prompt: 'context-change', methods: ['webauthn'], withoutDevice: 'register' });
    assert.deepEqual(await s.current(), next);
    assert.deepEqual(await f.store.getSetting('mfa'), next);
    const [event] = (await f.store.listAudit({ actor: 'admin' })).filter(
      (e) => e.action === 'sesame:UpdateMfaSettings',
    );
    assert.equal(event?.outcome, 'succeeded');
    assert.deepEqual(event?.detail, next);
    // A restart (a new service over the same store) reads what was stored.
    assert.deepEqual(await service().current(), next);
  });

  test('a rejected update changes nothing', async () => {
    const s = service();
    await rejects(s.update(ADMIN, { prompt: 'never' }), 'INVALID', /prompt: must be one of/);
    await rejects(s.update(ADMIN, null), 'INVALID', /must be a JSON object/);
    assert.deepEqual(await s.current(), DEFAULT_MFA_SETTINGS);
    assert.equal(await f.store.getSetting('mfa'), undefined);
  });

  test('"email-code" needs a mail server', async () => {
    await rejects(
      service(false).update(ADMIN, { withoutDevice: 'email-code' }),
      'INVALID',
      /withoutDevice "email-code" needs a mail server: configure smtp/,
    );
    const withMail = await service(true).update(ADMIN, { withoutDevice: 'email-code' });
    assert.equal(withMail.withoutDevice, 'email-code');
  });

  test('a damaged stored value falls back to the strict default (it must not stop every sign-in)', async () => {
    await f.store.putSetting('mfa', { prompt: 'never', methods: [] }, f.now());
    // mfa-settings-service.ts promises: "a damaged row falls back to the strict default, never to 'no MFA'".
    // Throwing here instead fails every sign-in with a 400, the administrator's included.
    assert.deepEqual(await service().current(), DEFAULT_MFA_SETTINGS);
  });

  /** The service over a store whose read of the settings fails with `error`. */
  const readingFails = (error: Error) =>
    createMfaSettingsService({
      ...deps(),
      store: {
        ...f.store,
        getSetting: async () => {
          throw error;
        },
      },
    });

  test('a row that is not JSON at all falls back to the strict default too', async () => {
    // What the store throws for a settings row whose text is not JSON (open-store.test.ts).
    const settings = readingFails(
      new SesameStoreError('DAMAGED', 'column settings.value (mfa) does not hold valid JSON'),
    );
    assert.deepEqual(await settings.current(), DEFAULT_MFA_SETTINGS);
  });

  test('a database that cannot be read is an error, not the defaults', async () => {
    const settings = readingFails(
      new SesameStoreError('UNAVAILABLE', 'store.getSetting: the database is unavailable'),
    );
    await assert.rejects(
      settings.current(),
      (error) => error instanceof SesameStoreError && error.code === 'UNAVAILABLE',
      'the defaults may be looser than the stored settings (withoutDevice "register" where it was "block")',
    );
  });

  test('another replica over the same database sees an update within a minute', async () => {
    const first = service();
    const second = service();
    assert.deepEqual(await second.current(), DEFAULT_MFA_SETTINGS);
    await first.update(ADMIN, { withoutDevice: 'block' });
    f.advance(60_000);
    assert.equal(
      (await second.current()).withoutDevice,
      'block',
      'a replica keeps its cached MFA settings forever: an administrator tightening them is ignored there',
    );
  });
});
