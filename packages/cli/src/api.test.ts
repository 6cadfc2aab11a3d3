import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { after, before, beforeEach, test } from 'node:test';
import { selfSignedCertificate } from '../../../test/certificates.ts';
import { ApiClient } from './api.ts';
import {
  type Credentials,
  clearCredentials,
  forgetProposals,
  loadCredentials,
  readCredentials,
  saveCredentials,
} from './credentials.ts';
import type { CliError } from './errors.ts';
import { worthAnotherCode } from './sign-in/sign-in-steps.ts';

/** A refresh token of the server's shape (rft_ and 20-100 base64url characters). */
const rft = (tail: string) => `rft_${tail.padEnd(20, '0')}`;

/** A stand-in for the server's token endpoints: one valid access token, one valid refresh token. */
const state = {
  access: 'ses_1',
  refresh: rft('1'),
  n: 1,
  refreshCalls: 0,
  sessionExpiresAt: 0,
  codeTries: 0,
  proposals: [] as string[],
  refuseProposal: false,
};
let server: Server;
let url: string;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sesame-api-'));
  process.env.SESAME_HOME = dir;
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const send = (status: number, value: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(value));
      };
      if (req.url === '/api/v1/auth/refresh') {
        state.refreshCalls++;
        state.proposals.push(String(JSON.parse(body).nextRefreshToken));
        if (state.refuseProposal)
          return send(400, {
            error: { code: 'INVALID', message: 'nextRefreshToken must be a new refresh token' },
          });
        if (JSON.parse(body).refreshToken !== state.refresh)
          return send(401, {
            error: { code: 'UNAUTHENTICATED', message: 'the sign-in was revoked: run `sesame login` again' },
          });
        state.n++;
        state.access = `ses_${state.n}`;
        state.refresh = rft(String(state.n));
        return send(200, {
          token: state.access,
          expiresAt: Date.now() + 15 * 60_000,
          refreshToken: state.refresh,
          sessionExpiresAt: state.sessionExpiresAt,
        });
      }
      if (req.headers.authorization !== `Bearer ${state.access}`)
        return send(
          401,
          { error: { code: 'UNAUTHENTICATED', message: 'sign in first' } },
          { 'www-authenticate': 'Bearer error="invalid_token"' },
        );
      if (req.url === '/api/v1/mfa/totp/confirm') {
        state.codeTries++;
        return send(401, {
          error: {
            code: 'UNAUTHENTICATED',
            message: 'wrong code: 3 attempts left',
            details: { attemptsLeft: 3 },
          },
        });
      }
      // A body larger than any JSON answer may be (a long recording), one cut off mid-way, and a missing one.
      if (req.url === '/api/v1/big') {
        res.writeHead(200, { 'content-type': 'application/x-asciicast' });
        for (let i = 0; i < 20; i++) res.write(Buffer.alloc(1024 * 1024, 0x61 + i));
        return res.end();
      }
      if (req.url === '/api/v1/cut') {
        res.writeHead(200, { 'content-length': '100000' });
        return res.write('x'.repeat(1000), () => res.destroy());
      }
      if (req.url === '/api/v1/stall') {
        res.writeHead(200, { 'content-type': 'application/x-asciicast' });
        return res.write('a'.repeat(100)); // then nothing, the connection left open
      }
      if (req.url === '/api/v1/gone')
        return send(404, { error: { code: 'NOT_FOUND', message: 'no session "gone"' } });
      // A listing in pages of two (things), and one that hands back the same token forever (loop).
      const listed = /^\/api\/v1\/(things|loop)\?maxResults=2(?:&nextToken=(\w+))?$/.exec(req.url ?? '');
      if (listed) {
        const from = Number(listed[2] ?? 0);
        const things = ['a', 'b', 'c', 'd', 'e'].slice(from, from + 2).map((name) => ({ name }));
        const next = listed[1] === 'loop' ? '1' : from + 2 < 5 ? String(from + 2) : undefined;
        return send(200, { things, ...(next ? { nextToken: next } : {}) });
      }
      send(200, { user: { username: 'alice' } });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  Object.assign(state, {
    access: 'ses_1',
    refresh: rft('1'),
    n: 1,
    refreshCalls: 0,
    codeTries: 0,
    proposals: [],
    refuseProposal: false,
  });
  state.sessionExpiresAt = Date.now() + 3_600_000;
});

const stored = (over: Partial<Credentials> = {}): Credentials => ({
  url,
  username: 'alice',
  token: 'ses_1',
  expiresAt: Date.now() + 10 * 60_000,
  refreshToken: rft('1'),
  sessionExpiresAt: state.sessionExpiresAt,
  tls: null,
  ...over,
});

test('a fresh token is used without refreshing', async () => {
  await saveCredentials(stored());
  const api = ApiClient.signedIn(await loadCredentials());
  assert.deepEqual(await api.call('GET', '/api/v1/me'), { user: { username: 'alice' } });
  assert.equal(state.refreshCalls, 0);
});

test('an expired (or nearly expired) token is refreshed first and the rotated refresh token saved', async () => {
  for (const expiresAt of [Date.now() - 1000, Date.now() + 30_000]) {
    state.access = 'ses_unknown';
    await saveCredentials(stored({ expiresAt, token: 'ses_old', refreshToken: state.refresh }));
    const api = ApiClient.signedIn(await loadCredentials());
    await api.call('GET', '/api/v1/me');
    const after = await loadCredentials();
    assert.equal(after.token, state.access);
    assert.equal(after.refreshToken, state.refresh);
    assert.equal(api.token, state.access);
  }
  assert.equal(state.refreshCalls, 2);
});

test('a 401 on a token that looked fresh refreshes once and retries', async () => {
  state.access = 'ses_revoked_elsewhere';
  await saveCredentials(stored());
  const api = ApiClient.signedIn(await loadCredentials());
  await api.call('GET', '/api/v1/me');
  assert.equal(state.refreshCalls, 1);
  assert.equal((await loadCredentials()).refreshToken, rft('2'));
});

test('any other 401 (a wrong code) is the answer: sent once, no refresh', async () => {
  await saveCredentials(stored());
  const api = ApiClient.signedIn(await loadCredentials());
  await assert.rejects(api.call('POST', '/api/v1/mfa/totp/confirm', { code: '000000' }), /wrong code/);
  assert.equal(state.codeTries, 1, 'the code was sent once: a retry would spend another attempt');
  assert.equal(state.refreshCalls, 0);
});

test('a wrong code with attempts left is worth asking again for; a sign-in that ended is not', async () => {
  await saveCredentials(stored());
  const api = ApiClient.signedIn(await loadCredentials());
  const wrong = await api.call('POST', '/api/v1/mfa/totp/confirm', { code: '000000' }).catch((e) => e);
  assert.deepEqual((wrong as CliError).details, { attemptsLeft: 3 });
  assert.equal(worthAnotherCode(wrong), true);
  state.refresh = rft('someone_else');
  await saveCredentials(stored({ expiresAt: Date.now() - 1 }));
  const ended = await ApiClient.signedIn(await loadCredentials())
    .call('POST', '/api/v1/mfa/totp/confirm', { code: '000000' })
    .catch((e) => e);
  assert.equal((ended as CliError).code, 'UNAUTHENTICATED');
  assert.equal(worthAnotherCode(ended), false, 'another code cannot help a sign-in that has ended');
});

test('a refused refresh says to run `sesame login` (exit 3)', async () => {
  state.refresh = rft('someone_else');
  await saveCredentials(stored({ expiresAt: Date.now() - 1 }));
  const api = ApiClient.signedIn(await loadCredentials());
  await assert.rejects(
    api.call('GET', '/api/v1/me'),
    (e: CliError) => e.exitCode === 3 && /sesame login/.test(e.message),
  );
});

test('after the sign-in session ends nothing is sent', async () => {
  await saveCredentials(stored({ sessionExpiresAt: Date.now() - 1, expiresAt: Date.now() - 1 }));
  const api = ApiClient.signedIn(await loadCredentials());
  await assert.rejects(
    api.call('GET', '/api/v1/me'),
    (e: CliError) => e.exitCode === 3 && /sesame login/.test(e.message),
  );
  assert.equal(state.refreshCalls, 0);
});

test('a token another process refreshed meanwhile is taken from the file, not refreshed again', async () => {
  const mine = stored({ expiresAt: Date.now() - 1 });
  state.access = 'ses_9';
  await saveCredentials(stored({ token: 'ses_9', refreshToken: rft('9') }));
  const api = ApiClient.signedIn(mine);
  await api.call('GET', '/api/v1/me');
  assert.equal(state.refreshCalls, 0);
  assert.equal(api.token, 'ses_9');
});

test('a sign-in signed out or replaced by another sesame meanwhile is not refreshed back into the file', async () => {
  const mine = stored({ expiresAt: Date.now() - 1 });
  // Signed out meanwhile: nothing is sent, nothing written.
  await clearCredentials();
  await assert.rejects(ApiClient.signedIn(mine).call('GET', '/api/v1/me'), (error: CliError) => {
    assert.equal(error.exitCode, 3);
    assert.match(error.message, /another sesame signed out meanwhile: run `sesame login`/);
    return true;
  });
  assert.equal(await readCredentials(), undefined);
  // Signed in as bob meanwhile: bob's sign-in stays.
  const bob = stored({ username: 'bob', token: 'ses_bob', refreshToken: rft('bob') });
  await saveCredentials(bob);
  await assert.rejects(
    ApiClient.signedIn(mine).call('GET', '/api/v1/me'),
    /another sesame signed in as bob at /,
  );
  assert.deepEqual(await readCredentials(), bob);
  assert.equal(state.refreshCalls, 0);
});

test('each refresh proposes a new random successor; a refused proposal (400) is not asked again', async () => {
  await saveCredentials(stored({ expiresAt: Date.now() - 1 }));
  state.refuseProposal = true;
  await assert.rejects(
    ApiClient.signedIn(await loadCredentials()).call('GET', '/api/v1/me'),
    (error: CliError) => {
      assert.equal(error.exitCode, 1);
      assert.match(
        error.message,
        /the server refused the refresh \(nextRefreshToken must be a new refresh token\); try the command again/,
      );
      return true;
    },
  );
  state.refuseProposal = false;
  await ApiClient.signedIn(await loadCredentials()).call('GET', '/api/v1/me');
  assert.equal(state.proposals.length, 2);
  for (const proposal of state.proposals) assert.match(proposal, /^rft_[A-Za-z0-9_-]{43}$/);
  assert.notEqual(state.proposals[0], state.proposals[1], 'the refused one was not sent again');
  await forgetProposals();
});

test('a damaged credentials file is said to be damaged, not taken for a sign-out elsewhere', async () => {
  const mine = stored({ expiresAt: Date.now() - 1 });
  writeFileSync(join(dir, 'credentials.json'), '{');
  await assert.rejects(ApiClient.signedIn(mine).call('GET', '/api/v1/me'), /credentials\.json is damaged/);
  assert.equal(state.refreshCalls, 0);
});

test('a listing is followed page by page to its end; a server that repeats a page is an error, not a loop', async () => {
  await saveCredentials(stored());
  const api = ApiClient.signedIn(await loadCredentials());
  const names = (await api.list('/api/v1/things?maxResults=2', 'things')).map((t) => t.name);
  assert.deepEqual(names, ['a', 'b', 'c', 'd', 'e']);
  await assert.rejects(api.list('/api/v1/loop?maxResults=2', 'things'), /repeats a page/);
  await assert.rejects(api.list('/api/v1/me', 'things'), /has no "things" list/);
});

test('a download streams a body of any size (past the 16 MiB of a JSON answer); a cut body or an error answer fails', async () => {
  await saveCredentials(stored({ token: 'ses_old' })); // refused: refreshed once, then streamed
  const api = ApiClient.signedIn(await loadCredentials());
  let size = 0;
  const last: number[] = [];
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      size += chunk.length;
      last[0] = chunk[chunk.length - 1] as number;
      done();
    },
  });
  await api.download('/api/v1/big', new PassThrough(), out);
  assert.equal(size, 20 * 1024 * 1024);
  assert.equal(last[0], 0x61 + 19);
  assert.equal(out.writableEnded, false, 'stdout is not ended');
  assert.equal(state.refreshCalls, 1);
  await assert.rejects(api.download('/api/v1/cut', new PassThrough(), out), /the answer broke off/);
  await assert.rejects(
    api.download('/api/v1/gone', new PassThrough(), out),
    (e: CliError) => e.exitCode === 5 && /no session "gone"/.test(e.message),
  );
});

test('a download: a reader gone (EPIPE) ends it quietly; a failing local write says so; a silent server is given up on', async () => {
  await saveCredentials(stored());
  const api = ApiClient.signedIn(await loadCredentials());
  const failing = (code: string) =>
    new Writable({
      write(_chunk, _encoding, done) {
        done(Object.assign(new Error(`${code}: it failed`), { code }));
      },
    });
  await api.download('/api/v1/big', new PassThrough(), failing('EPIPE'));
  await assert.rejects(
    api.download('/api/v1/big', new PassThrough(), failing('ENOSPC')),
    (e: CliError) => e.exitCode === 1 && /^cannot write the output: ENOSPC/.test(e.message),
  );
  const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
  await assert.rejects(api.download('/api/v1/stall', new PassThrough(), sink, 300), /nothing came for 0.3 s/);
});

test('a server whose certificate is not the pinned one: said plainly, with how to pin the new one (exit 7)', async () => {
  const certs = (name: string) => {
    const at = join(dir, name);
    mkdirSync(at);
    return selfSignedCertificate(at);
  };
  const [pinned, now] = [certs('pinned-cert'), certs('now-cert')];
  const tlsServer = createHttpsServer(
    { cert: readFileSync(now.certFile), key: readFileSync(now.keyFile) },
    (_q, r) => r.end('{}'),
  );
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  try {
    const at = `https://127.0.0.1:${(tlsServer.address() as AddressInfo).port}`;
    const pin = { fingerprint256: pinned.fingerprint, caPem: readFileSync(pinned.certFile, 'utf8') };
    await assert.rejects(new ApiClient(at, 'ses_x', pin).call('GET', '/api/v1/me'), (error: CliError) => {
      assert.equal(error.exitCode, 7);
      assert.match(error.message, /the server's TLS certificate is not the one pinned \(SHA-256 /);
      assert.match(
        error.message,
        new RegExp(`sign in again with \`sesame login --url ${at} --fingerprint <new>\``),
      );
      return true;
    });
    // Unpinned, an unreachable server is just that.
    await assert.rejects(
      new ApiClient('https://127.0.0.1:9').call('GET', '/'),
      /cannot reach the Sesame server/,
    );
  } finally {
    tlsServer.close();
  }
});

test('a stored refresh token that is not one the server issues is a sign-in to make again (exit 3), with nothing sent', async () => {
  for (const refreshToken of ['rft_ not base64', 'ses_1', 'rft_short', `rft_${'a'.repeat(101)}`]) {
    const mine = stored({ expiresAt: Date.now() - 1, refreshToken });
    await saveCredentials(mine);
    await assert.rejects(ApiClient.signedIn(mine).call('GET', '/api/v1/me'), (error: CliError) => {
      assert.equal(error.exitCode, 3);
      assert.match(error.message, /the stored sign-in is damaged .*: run `sesame login --url http:/);
      return true;
    });
  }
  assert.equal(state.refreshCalls, 0);
});
