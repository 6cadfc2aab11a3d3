import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { hashToken } from '../crypto.ts';
import { rejects, serviceFixture } from '../services/service-fixture.ts';
import type { User } from '../store/index.ts';
import { createSignInSessions, type SignInSessions, type StartSignIn } from './sign-in-sessions.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const ACCESS_TTL_MS = 15 * MINUTE;
const DEFAULT_SESSION_MS = HOUR;
const EXPIRED = /your sign-in has expired or was revoked: run `sesame login` again/;

let f: Awaited<ReturnType<typeof serviceFixture>>;
let sessions: SignInSessions;
let alice: User;
let bob: User;
/** Session length by user id, as the permission sets would give it; anyone else gets the server default. */
const durations = new Map<string, number>();

beforeEach(async () => {
  f = await serviceFixture();
  alice = await f.store.createUser({
    id: 'u-alice',
    username: 'alice',
    passwordHash: null,
    isAdmin: false,
    createdAt: f.now(),
  });
  bob = await f.store.createUser({
    id: 'u-bob',
    username: 'bob',
    passwordHash: null,
    isAdmin: false,
    createdAt: f.now(),
  });
  durations.clear();
  durations.set(alice.id, 8 * HOUR);
  sessions = createSignInSessions({
    store: f.store,
    audit: f.audit,
    arn: f.arn,
    accessTokenTtlMs: ACCESS_TTL_MS,
    maxSessionMsFor: (userId) => durations.get(userId) ?? DEFAULT_SESSION_MS,
    now: f.now,
  });
});
afterEach(() => f.store.close());

const start = (user: User, overrides: Partial<StartSignIn> = {}) =>
  sessions.start({
    user,
    method: 'password',
    providerId: null,
    mfaAt: f.now(),
    mfaMethod: 'totp',
    sourceAddress: '192.0.2.1',
    client: 'cli',
    ...overrides,
  });

describe('sign-in sessions: how long they last', () => {
  test('a session lasts as long as the permission sets allow; without one, the server default', async () => {
    const a = await start(alice);
    assert.equal(a.session.expiresAt, f.now() + 8 * HOUR, "alice's permission set says 8 hours");
    const b = await start(bob);
    assert.equal(b.session.expiresAt, f.now() + DEFAULT_SESSION_MS, 'bob has no permission set: the default');
  });

  test("a shorter limit from the identity provider wins; a longer one does not extend the permission set's", async () => {
    const shorter = await start(alice, { maxDurationMs: 2 * HOUR });
    assert.equal(shorter.session.expiresAt, f.now() + 2 * HOUR);
    const longer = await start(alice, { maxDurationMs: 24 * HOUR });
    assert.equal(longer.session.expiresAt, f.now() + 8 * HOUR);
  });

  test('a sign-in handed off from another ends by its end, to the millisecond, however the clock moves meanwhile', async () => {
    let t = f.now();
    const ticking = createSignInSessions({
      store: f.store,
      audit: f.audit,
      arn: f.arn,
      accessTokenTtlMs: ACCESS_TTL_MS,
      maxSessionMsFor: () => 8 * HOUR,
      now: () => ++t,
    });
    const parentEnd = t + 30 * MINUTE;
    const { session } = await ticking.start({
      user: alice,
      method: 'password',
      providerId: null,
      mfaAt: t,
      mfaMethod: 'totp',
      sourceAddress: null,
      client: 'cli',
      endsBy: parentEnd,
    });
    assert.equal(session.expiresAt, parentEnd);
  });

  test('a CLI sign-in gets a short access token and a refresh token; a web sign-in one token for the session', async () => {
    const cli = await start(alice);
    assert.match(cli.token, /^ses_/);
    assert.match(cli.refreshToken ?? '', /^rft_/);
    assert.equal(cli.expiresAt, f.now() + ACCESS_TTL_MS, 'the CLI access token lives accessTokenTtlMs');
    const web = await start(alice, { client: 'web' });
    assert.equal(web.refreshToken, undefined, 'a browser gets no refresh token');
    assert.equal(web.expiresAt, web.session.expiresAt, "the browser's token lives as long as the session");
  });

  test('only hashes of the tokens are stored', async () => {
    const cli = await start(alice);
    assert.ok(await f.store.findTokenSession(hashToken(cli.token)));
    assert.equal(await f.store.findTokenSession(cli.token), undefined);
    assert.ok(await f.store.findRefresh(hashToken(cli.refreshToken as string)));
  });

  test('the access token stops at the session end even when its own lifetime is longer', async () => {
    durations.set(bob.id, 10 * MINUTE);
    const b = await start(bob);
    assert.equal(b.expiresAt, b.session.expiresAt, 'a 15-minute token must not outlive a 10-minute session');
  });
});

describe('sign-in sessions: tokens', () => {
  test('authenticate gives the principal with its MFA time and sign-in session', async () => {
    const mfaAt = f.now() - MINUTE;
    const a = await start(alice, { mfaAt });
    const { principal, session } = await sessions.authenticate(a.token, '198.51.100.7');
    assert.deepEqual(principal, {
      userId: alice.id,
      username: 'alice',
      sourceAddress: '198.51.100.7',
      mfaAt,
      signInSessionId: a.session.id,
    });
    assert.equal(session.id, a.session.id);
    const noMfa = await start(alice, { mfaAt: null, mfaMethod: null });
    assert.equal((await sessions.authenticate(noMfa.token, null)).principal.mfaAt, null);
  });

  test('no token, an unknown one, an expired access token: UNAUTHENTICATED saying what to do', async () => {
    await rejects(
      sessions.authenticate(undefined, null),
      'UNAUTHENTICATED',
      /sign in first: run `sesame login`/,
    );
    await rejects(sessions.authenticate('ses_not-a-real-token', null), 'UNAUTHENTICATED', EXPIRED);
    const a = await start(alice);
    f.advance(ACCESS_TTL_MS - 1);
    await sessions.authenticate(a.token, null);
    f.advance(1);
    await rejects(sessions.authenticate(a.token, null), 'UNAUTHENTICATED', EXPIRED);
  });

  test('refreshing rotates the refresh token and issues a new access token for the same session', async () => {
    const a = await start(alice);
    f.advance(ACCESS_TTL_MS + MINUTE);
    const next = await sessions.refresh(a.refreshToken);
    assert.equal(next.session.id, a.session.id);
    assert.notEqual(next.refreshToken, a.refreshToken);
    assert.notEqual(next.token, a.token);
    assert.equal(next.expiresAt, f.now() + ACCESS_TTL_MS);
    assert.equal((await sessions.authenticate(next.token, null)).session.id, a.session.id);
    const third = await sessions.refresh(next.refreshToken);
    assert.equal(third.session.expiresAt, a.session.expiresAt, 'refreshing never extends the session');
  });

  test('a refresh token presented twice revokes the whole sign-in', async () => {
    const a = await start(alice);
    const next = await sessions.refresh(a.refreshToken);
    await rejects(
      sessions.refresh(a.refreshToken, undefined, '198.51.100.9'),
      'UNAUTHENTICATED',
      /this refresh token was already used, so the sign-in was revoked to be safe: run `sesame login` again/,
    );
    // The usual sign of a stolen token is on the record, with where the second use came from.
    const [event] = await f.store.listAudit({ action: 'sesame:RefreshSignIn' });
    assert.equal(event?.actor, 'alice');
    assert.equal(event?.outcome, 'failed');
    assert.equal(event?.sourceAddress, '198.51.100.9');
    assert.match(
      String(event?.detail.reason),
      /^this refresh token was already used: the sign-in was revoked/,
    );
    // Replayed again on the sign-in it already ended: refused, and not on the record a second time.
    await rejects(sessions.refresh(a.refreshToken, undefined, '198.51.100.9'), 'UNAUTHENTICATED', /./);
    assert.equal((await f.store.listAudit({ action: 'sesame:RefreshSignIn' })).length, 1);
    await rejects(sessions.authenticate(next.token, null), 'UNAUTHENTICATED', EXPIRED);
    await rejects(sessions.authenticate(a.token, null), 'UNAUTHENTICATED', EXPIRED);
    await rejects(sessions.refresh(next.refreshToken), 'UNAUTHENTICATED', EXPIRED);
    assert.ok((await f.store.getSignInSession(a.session.id))?.revokedAt, 'the session is marked revoked');
  });

  test("a refresh token presented twice also forgets its device's remembered MFA", async () => {
    const remember = (deviceHash: string) =>
      f.store.rememberSignInContext({
        userId: alice.id,
        deviceHash,
        sourceAddress: '192.0.2.1',
        mfaAt: f.now(),
        expiresAt: f.now() + 3_600_000,
      });
    await remember('laptop');
    await remember('desktop');
    const a = await start(alice, { deviceHash: 'laptop' });
    await sessions.refresh(a.refreshToken);
    await rejects(sessions.refresh(a.refreshToken), 'UNAUTHENTICATED', /already used/);
    assert.equal(await f.store.getSignInContext(alice.id, 'laptop'), undefined, 'asked for MFA again');
    assert.ok(await f.store.getSignInContext(alice.id, 'desktop'), 'other devices stay known');
  });

  test('a stolen refresh token spent twice by the thief still revokes the sign-in when its owner uses it', async () => {
    const a = await start(alice);
    const thief = await sessions.refresh(a.refreshToken);
    const again = await sessions.refresh(thief.refreshToken); // the stolen token is now two rotations back
    await rejects(
      sessions.refresh(a.refreshToken),
      'UNAUTHENTICATED',
      /already used, so the sign-in was revoked/,
    );
    await rejects(sessions.authenticate(again.token, null), 'UNAUTHENTICATED', EXPIRED);
    await rejects(sessions.refresh(again.refreshToken), 'UNAUTHENTICATED', EXPIRED);
  });

  test('a client may propose the next refresh token; asking again with the same pair (a lost answer) is no theft', async () => {
    const a = await start(alice);
    const proposed = `rft_${'p'.repeat(43)}`;
    const first = await sessions.refresh(a.refreshToken, proposed);
    assert.equal(first.refreshToken, proposed);
    assert.ok(await f.store.findRefresh(hashToken(proposed)), 'stored as a hash like any other');
    // The answer was lost: the same request again gets a new access token for the same sign-in.
    const again = await sessions.refresh(a.refreshToken, proposed);
    assert.equal(again.session.id, a.session.id);
    assert.equal(again.refreshToken, proposed);
    assert.notEqual(again.token, first.token);
    assert.equal((await sessions.authenticate(again.token, null)).session.id, a.session.id);
    // The proposed token works as the next one; after that, the old pair is theft again.
    const third = await sessions.refresh(proposed, `rft_${'q'.repeat(43)}`);
    await rejects(sessions.refresh(a.refreshToken, proposed), 'UNAUTHENTICATED', /already used/);
    await rejects(sessions.authenticate(third.token, null), 'UNAUTHENTICATED', EXPIRED);
  });

  test('the spent token with another proposal, or none, is still theft', async () => {
    for (const proposal of [`rft_${'o'.repeat(43)}`, undefined]) {
      const a = await start(alice);
      const next = await sessions.refresh(a.refreshToken, `rft_${'n'.repeat(40)}${proposal ? 'abc' : 'xyz'}`);
      await rejects(
        sessions.refresh(a.refreshToken, proposal),
        'UNAUTHENTICATED',
        /already used, so the sign-in was revoked/,
      );
      await rejects(sessions.authenticate(next.token, null), 'UNAUTHENTICATED', EXPIRED);
    }
  });

  test('a proposed refresh token must be long, random-looking, new and not the one spent', async () => {
    const a = await start(alice);
    for (const value of [
      42,
      '',
      'rft_short',
      `ses_${'x'.repeat(43)}`,
      `rft_${'x'.repeat(101)}`,
      `rft_${'x'.repeat(42)}`,
      a.refreshToken,
    ])
      await rejects(
        sessions.refresh(a.refreshToken, value),
        'INVALID',
        /nextRefreshToken must be a new refresh token/,
      );
    assert.ok(await sessions.refresh(a.refreshToken), 'a malformed proposal spends nothing');
  });

  test("proposing a token that was already issued (another sign-in's) ends both sign-ins: that token leaked", async () => {
    const a = await start(alice);
    const b = await start(bob);
    await rejects(
      sessions.refresh(a.refreshToken, b.refreshToken),
      'UNAUTHENTICATED',
      /nextRefreshToken is a refresh token already issued, so this sign-in was revoked/,
    );
    await rejects(sessions.authenticate(a.token, null), 'UNAUTHENTICATED', EXPIRED);
    await rejects(sessions.authenticate(b.token, null), 'UNAUTHENTICATED', EXPIRED);
  });

  test('a repeat that looked the token up before the other request rotated it is a repeat, not a probe', async () => {
    const a = await start(alice);
    const proposal = `rft_${'r'.repeat(43)}`;
    const spent = hashToken(a.refreshToken as string);
    const seenBefore = await f.store.findRefresh(spent); // what the second request saw: still current
    const first = await sessions.refresh(a.refreshToken, proposal);
    let firstLook = true;
    const late = createSignInSessions({
      audit: f.audit,
      arn: f.arn,
      store: {
        ...f.store,
        findRefresh: (hash: string) => {
          if (hash !== spent || !firstLook) return f.store.findRefresh(hash);
          firstLook = false;
          return Promise.resolve(seenBefore);
        },
      },
      accessTokenTtlMs: ACCESS_TTL_MS,
      maxSessionMsFor: () => DEFAULT_SESSION_MS,
      now: f.now,
    });
    const second = await late.refresh(a.refreshToken, proposal);
    assert.equal(second.refreshToken, proposal);
    assert.equal((await sessions.authenticate(first.token, null)).session.id, a.session.id);
    assert.equal((await sessions.authenticate(second.token, null)).session.id, a.session.id);
  });

  test('two refreshes at once with the same pair both get in; with different proposals, the sign-in is revoked', async () => {
    const a = await start(alice);
    const pair = [a.refreshToken, `rft_${'s'.repeat(43)}`] as const;
    const [one, two] = await Promise.all([sessions.refresh(...pair), sessions.refresh(...pair)]);
    assert.equal(one.refreshToken, pair[1]);
    assert.equal(two.refreshToken, pair[1]);
    assert.equal((await sessions.authenticate(two.token, null)).session.id, a.session.id);
    const b = await start(alice);
    const results = await Promise.allSettled([
      sessions.refresh(b.refreshToken, `rft_${'t'.repeat(43)}`),
      sessions.refresh(b.refreshToken, `rft_${'u'.repeat(43)}`),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected'],
    );
    assert.match(
      String((results[1] as PromiseRejectedResult).reason.message),
      /already used, so the sign-in was revoked/,
    );
    await rejects(sessions.authenticate(b.token, null), 'UNAUTHENTICATED', EXPIRED);
  });

  test('near the session end, the refreshed token stops at the end; after it, refresh is refused', async () => {
    const a = await start(alice);
    f.advance(8 * HOUR - 5 * MINUTE);
    const late = await sessions.refresh(a.refreshToken);
    assert.equal(late.expiresAt, a.session.expiresAt);
    f.advance(5 * MINUTE);
    await rejects(sessions.refresh(late.refreshToken), 'UNAUTHENTICATED', EXPIRED);
    await rejects(sessions.authenticate(late.token, null), 'UNAUTHENTICATED', EXPIRED);
  });

  test('a web token stops working at the session end', async () => {
    const web = await start(bob, { client: 'web' });
    f.advance(DEFAULT_SESSION_MS - 1);
    await sessions.authenticate(web.token, null);
    f.advance(1);
    await rejects(sessions.authenticate(web.token, null), 'UNAUTHENTICATED', EXPIRED);
  });

  test('a malformed refresh token is INVALID; an unknown one UNAUTHENTICATED', async () => {
    for (const value of [
      undefined,
      '',
      42,
      'ses_abcdefghijklmnopqrstuvwxyz',
      'rft_short',
      `rft_${'x'.repeat(101)}`,
    ]) {
      await rejects(
        sessions.refresh(value),
        'INVALID',
        /refreshToken must be the refresh token from `sesame login`/,
      );
    }
    await rejects(sessions.refresh('rft_abcdefghijklmnopqrstuvwxyz'), 'UNAUTHENTICATED', EXPIRED);
  });

  test('signing out ends its access and refresh tokens, and only its own, on the record', async () => {
    const a = await start(alice);
    const other = await start(alice);
    await sessions.signOut(a.session, '192.0.2.7');
    const [event] = await f.store.listAudit({ action: 'sesame:SignOut' });
    assert.equal(event?.actor, 'alice');
    assert.equal(event?.sourceAddress, '192.0.2.7');
    assert.deepEqual(event?.detail, { signInSession: a.session.id, client: a.session.client });
    await rejects(sessions.authenticate(a.token, null), 'UNAUTHENTICATED', EXPIRED);
    await rejects(sessions.refresh(a.refreshToken), 'UNAUTHENTICATED', EXPIRED);
    assert.equal((await sessions.authenticate(other.token, null)).session.id, other.session.id);
  });

  test('a disabled user is refused with a message that says so, on authenticate and on refresh', async () => {
    const a = await start(alice);
    await f.store.setUserDisabled(alice.id, true);
    await rejects(sessions.authenticate(a.token, null), 'UNAUTHENTICATED', /this account is disabled/);
    await rejects(sessions.refresh(a.refreshToken), 'UNAUTHENTICATED', /this account is disabled/);
  });
});
