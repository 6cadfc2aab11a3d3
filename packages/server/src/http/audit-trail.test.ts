// GET /api/v1/audit: the audit trail, newest first, filtered and paged, for those allowed cloudtrail:LookupEvents.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertError, startTestServer, type TestServer } from '../test-server.ts';

type Event = { seq: number; time: number; actor: string; action: string; outcome: string; resource: string };

let ts: TestServer;
let alice: string;
before(async () => {
  ts = await startTestServer();
  alice = (await ts.createUser('alice')).token;
  await ts.createUser('bob');
});
after(() => ts.close());

const read = async (query = '', token = ts.adminToken) => {
  const r = await ts.api('GET', `/api/v1/audit${query}`, { token });
  assert.equal(r.status, 200, r.text);
  return r.body as { events: Event[]; nextToken?: string };
};

test('newest first, filtered by actor, action, resource and time', async () => {
  const { events } = await read();
  assert.ok(events.length > 5);
  assert.deepEqual(
    events.map((e) => e.seq),
    [...events.map((e) => e.seq)].sort((a, b) => b - a),
    'newest first',
  );
  const created = await read('?action=sesame:CreateUser');
  assert.ok(created.events.length >= 2);
  assert.ok(created.events.every((e) => e.action === 'sesame:CreateUser' && e.actor === 'admin'));
  const bobs = created.events.find((e) => e.resource.endsWith(':user/bob'));
  assert.ok(bobs, JSON.stringify(created.events));
  assert.deepEqual(
    (await read(`?resource=${encodeURIComponent(bobs.resource)}&action=sesame:CreateUser`)).events.map(
      (e) => e.seq,
    ),
    [bobs.seq],
  );
  assert.ok((await read('?actor=alice')).events.every((e) => e.actor === 'alice'));
  const at = new Date(bobs.time).toISOString();
  assert.ok((await read(`?since=${at}`)).events.every((e) => e.time >= bobs.time));
  assert.ok((await read(`?until=${at}`)).events.every((e) => e.time < bobs.time));
});

test('pages follow one another without a gap or a repeat; the read itself is audited', async () => {
  const all = (await read('?maxResults=1000')).events.map((e) => e.seq);
  const paged: number[] = [];
  let token: string | undefined;
  do {
    const page = await read(`?maxResults=3${token ? `&nextToken=${token}` : ''}`);
    paged.push(...page.events.map((e) => e.seq));
    token = page.nextToken;
  } while (token);
  // Each read adds a cloudtrail:LookupEvents event: pages started after `all` see those as well, first.
  assert.deepEqual(
    paged.filter((seq) => all.includes(seq)),
    all,
  );
  const [newest] = (await read('?maxResults=1')).events;
  assert.equal(newest?.action, 'cloudtrail:LookupEvents');
  assert.equal(newest?.actor, 'admin');
});

test('someone not allowed cloudtrail:LookupEvents is refused, and the refusal is in the trail', async () => {
  assertError(
    await ts.api('GET', '/api/v1/audit', { token: alice }),
    403,
    'FORBIDDEN',
    /you are not allowed to cloudtrail:LookupEvents on \*/,
  );
  const denied = await read('?actor=alice&action=cloudtrail:LookupEvents');
  assert.equal(denied.events[0]?.outcome, 'denied');
});

test('a malformed query is a 400 that names the parameter', async () => {
  const cases: [string, RegExp][] = [
    ['?since=yesterday', /since must be a date and time in ISO 8601/],
    ['?until=2026-13-45T00:00:00Z', /until must be a date and time in ISO 8601/],
    ['?since=2026-02-30T00:00:00Z', /since must be a date and time in ISO 8601/],
    ['?since=2026-11-22T24:00:00Z', /since must be a date and time in ISO 8601/],
    ['?actor=a&actor=b', /actor must be given once/],
    ['?actor=', /actor must be given once, as 1 to 2048 characters/],
    ['?user=alice', /unknown field "user": this request takes "actor", "action"/],
    ['?maxResults=0', /maxResults must be a whole number from 1 to 1000/],
    ['?nextToken=abc', /nextToken is not one this listing gave out/],
    [
      `?nextToken=${Buffer.from('["x"]').toString('base64url')}`,
      /nextToken is not one this listing gave out/,
    ],
  ];
  for (const [query, message] of cases)
    assertError(
      await ts.api('GET', `/api/v1/audit${query}`, { token: ts.adminToken }),
      400,
      'INVALID',
      message,
    );
});

test("a time without a zone is UTC, not the server's zone", async () => {
  const newest = (await read('?maxResults=1')).events[0] as Event;
  const iso = new Date(newest.time).toISOString(); // …Z
  const plain = iso.slice(0, -1); // the same instant, written without its zone
  const zone = process.env.TZ;
  process.env.TZ = 'America/New_York'; // a server whose zone is not UTC (node follows TZ as it changes)
  try {
    const seqs = async (since: string) => (await read(`?since=${since}`)).events.map((e) => e.seq);
    assert.ok((await seqs(iso)).includes(newest.seq));
    assert.ok((await seqs(plain)).includes(newest.seq), 'read as UTC, not as New York time (5 hours later)');
  } finally {
    if (zone === undefined) delete process.env.TZ;
    else process.env.TZ = zone;
  }
});
