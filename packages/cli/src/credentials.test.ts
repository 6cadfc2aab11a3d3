import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  deviceId,
  forgetProposal,
  forgetProposals,
  loadCredentials,
  proposedSuccessor,
  readCredentials,
  saveCredentials,
  withCredentialsLock,
} from './credentials.ts';

let home: string;
before(() => {
  home = join(mkdtempSync(join(tmpdir(), 'sesame-cli-')), 'home');
  process.env.SESAME_HOME = home;
});
after(() => rmSync(join(home, '..'), { recursive: true, force: true }));

const mode = (path: string) => statSync(path).mode & 0o777;

test('the device id is made once, kept in a 0600 file in a 0700 directory', async () => {
  const first = await deviceId();
  assert.match(first, /^[A-Za-z0-9_-]{32}$/);
  assert.equal(await deviceId(), first);
  assert.equal(mode(join(home, 'device-id')), 0o600);
  assert.equal(mode(home), 0o700);
});

test('a damaged device id file is replaced', async () => {
  writeFileSync(join(home, 'device-id'), 'x\n');
  const id = await deviceId();
  assert.match(id, /^[A-Za-z0-9_-]{32}$/);
  assert.equal(mode(join(home, 'device-id')), 0o600);
});

test('credentials are saved 0600 with the refresh token and read back', async () => {
  assert.equal(await readCredentials(), undefined);
  await assert.rejects(loadCredentials(), (e: { exitCode: number }) => e.exitCode === 3);
  const credentials = {
    url: 'http://127.0.0.1:1',
    username: 'alice',
    token: 'ses_a',
    expiresAt: 1,
    refreshToken: 'rft_a',
    sessionExpiresAt: 2,
    tls: null,
  };
  await saveCredentials(credentials);
  assert.equal(mode(join(home, 'credentials.json')), 0o600);
  assert.deepEqual(await loadCredentials(), credentials);
  writeFileSync(join(home, 'credentials.json'), '{');
  await assert.rejects(loadCredentials(), /damaged/);
});

test('the credentials lock lets one process at a time in, and a stale lock is taken over', async () => {
  const order: string[] = [];
  let aHoldsIt: () => void = () => {};
  const held = new Promise<void>((resolve) => {
    aHoldsIt = resolve;
  });
  const slow = withCredentialsLock(async () => {
    order.push('a-in');
    aHoldsIt();
    await new Promise((r) => setTimeout(r, 100));
    order.push('a-out');
  });
  await held;
  await withCredentialsLock(async () => {
    order.push('b');
  });
  await slow;
  assert.deepEqual(order, ['a-in', 'a-out', 'b']);
  // A lock left by a killed process (untouched for longer than the stale time) is taken over…
  const lock = join(home, 'credentials.json.lock');
  mkdirSync(lock);
  const old = new Date(Date.now() - 60_000);
  utimesSync(lock, old, old);
  assert.equal(await withCredentialsLock(async () => 'taken'), 'taken');
  assert.equal(existsSync(lock), false, 'and let go');
  // …a fresh one is not.
  mkdirSync(lock);
  await assert.rejects(
    withCredentialsLock(async () => 'never', 100),
    /another sesame process has held .*credentials\.json\.lock for 0 s: try again/,
  );
  rmSync(lock, { recursive: true });
});

test('a lock held longer than the stale time by a live process is not taken over', async () => {
  let release: () => void = () => {};
  let holding: () => void = () => {};
  const held = new Promise<void>((resolve) => {
    holding = resolve;
  });
  const a = withCredentialsLock(
    async () => {
      holding();
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      return 'a';
    },
    1000,
    2000,
  );
  await held;
  await new Promise((resolve) => setTimeout(resolve, 3000)); // past the stale time of 2 s
  await assert.rejects(
    withCredentialsLock(async () => 'b', 300, 2000),
    /another sesame process has held/,
  );
  release();
  assert.equal(await a, 'a');
  assert.equal(await withCredentialsLock(async () => 'b', 1000, 2000), 'b');
  // The same stale time applied to a lock nobody touches: taken over once 2 s old.
  const lock = join(home, 'credentials.json.lock');
  mkdirSync(lock);
  const old = new Date(Date.now() - 3000);
  utimesSync(lock, old, old);
  assert.equal(await withCredentialsLock(async () => 'c', 1000, 2000), 'c');
});

test('a refresh proposal is written once per token: every caller, however many at once, gets the same one', async () => {
  const files = () => readdirSync(home).filter((name) => name.startsWith('refresh-proposal-'));
  const proposals = await Promise.all(Array.from({ length: 8 }, () => proposedSuccessor('rft_from-1')));
  assert.match(proposals[0] as string, /^rft_[A-Za-z0-9_-]{43}$/);
  assert.equal(new Set(proposals).size, 1);
  assert.equal(await proposedSuccessor('rft_from-1'), proposals[0], 'and again later (a lost answer)');
  assert.equal(files().length, 1, 'one file, no drafts left');
  const [first] = files();
  assert.match(String(first), /^refresh-proposal-[0-9a-f]{16}\.json$/);
  assert.equal(mode(join(home, String(first))), 0o600);
  // The next token's proposal, with the old one's file still there: again one proposal for all callers.
  const next = await Promise.all(Array.from({ length: 8 }, () => proposedSuccessor('rft_from-2')));
  assert.equal(new Set(next).size, 1);
  assert.notEqual(next[0], proposals[0], 'a new token gets a new proposal');
  assert.equal(
    await proposedSuccessor('rft_from-1'),
    proposals[0],
    "the old token's stays, for a late reader",
  );
  await forgetProposal('rft_from-2');
  assert.notEqual(await proposedSuccessor('rft_from-2'), next[0], 'a refused proposal is forgotten');
  // Proposals for other tokens go once an hour old; all go at login and logout.
  const old = new Date(Date.now() - 2 * 3_600_000);
  for (const name of files()) utimesSync(join(home, name), old, old);
  const third = await proposedSuccessor('rft_from-3');
  assert.equal(files().length, 1, 'swept, but for the one in use');
  // The one in use is kept however old: a lost answer may be asked again hours later.
  for (const name of files()) utimesSync(join(home, name), old, old);
  assert.equal(await proposedSuccessor('rft_from-3'), third);
  // A draft left by a process killed while writing it goes with the rest.
  writeFileSync(join(home, `${files()[0]}.0123456789ab.draft`), '{"from":"rft_from-3","next":"x"}');
  await forgetProposals();
  assert.deepEqual(files(), [], 'proposals and drafts');
});

test('credentials that cannot be read are an error that says so, not "not signed in"', async () => {
  const file = join(home, 'credentials.json');
  rmSync(file, { force: true });
  mkdirSync(file); // EISDIR, as EACCES would be for a file of another user's
  try {
    await assert.rejects(readCredentials(), (error: Error) => {
      assert.match(error.message, /^cannot read .*credentials\.json: .*check its permissions/);
      return true;
    });
  } finally {
    rmSync(file, { recursive: true, force: true });
  }
  assert.equal(await readCredentials(), undefined, 'a missing file is simply no sign-in');
});
