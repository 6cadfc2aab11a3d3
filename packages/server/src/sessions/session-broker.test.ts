import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type Channel, type ChannelRejectedError, Mux, type OpenRequest } from '@sesame/protocol';
import type { Principal } from '../authorize.ts';
import type { Logger } from '../log.ts';
import type { SessionRecord } from '../store/index.ts';
import { eventually } from '../test-server.ts';
import { createSessionBroker, spokenDuration } from './session-broker.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'sesame-broker-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

const quiet = { keepaliveIntervalMs: 0, keepaliveTimeoutMs: 0 };

/** Two muxes joined in memory (side a is the server's), handshaken. */
async function muxPair(
  onOpenAtA?: ConstructorParameters<typeof Mux>[1]['onOpen'],
  onOpenAtB?: typeof onOpenAtA,
) {
  let a: Mux | undefined;
  let b: Mux | undefined;
  const wire = (peer: () => Mux | undefined) => ({
    send: (bytes: Uint8Array) => queueMicrotask(() => peer()?.receive(bytes)),
    close: () => queueMicrotask(() => peer()?.transportClosed('TRANSPORT_CLOSED', 'closed')),
  });
  a = new Mux(
    wire(() => b),
    { side: 'a', ...quiet, ...(onOpenAtA ? { onOpen: onOpenAtA } : {}) },
  );
  b = new Mux(
    wire(() => a),
    { side: 'b', ...quiet, ...(onOpenAtB ? { onOpen: onOpenAtB } : {}) },
  );
  a.hello({});
  b.hello({});
  await Promise.all([a.ready, b.ready]);
  return { a, b };
}

/**
 * A broker whose store fails `updateSession` for the states in `failing`, an agent that accepts the shell (or,
 * with `hold`, keeps the request for the test to answer), and a client that opens one.
 */
async function setUp(
  failing: SessionRecord['state'][],
  {
    hold = false,
    agentOpenTimeoutMs = 0,
    auditFails = false,
    signedIn = undefined as (() => boolean) | undefined,
    endWritten = undefined as Promise<void> | undefined,
    startWritten = undefined as Promise<void> | undefined,
    startWriteTimeoutMs = undefined as number | undefined,
    maxPerUser = 32,
    maxRecordingMiB = 4096,
    /** What the policies say now about starting this session (checked again while it runs). */
    allowed = (() => true) as () => boolean,
    /** The principal's second factor, and the policies' "MultiFactorAuthAge below" limit (none: no limit). */
    mfaAt = undefined as number | undefined,
    mfaMaxAgeMs = Number.POSITIVE_INFINITY,
    tags = (() => ({})) as () => Record<string, string>,
  } = {},
) {
  const auditState = { fails: auditFails };
  const errors: string[] = [];
  const log = {
    info: () => {},
    warn: () => {},
    error: (_fields: unknown, message: string) => errors.push(message),
  } as unknown as Logger;
  let agentChannel: Channel | undefined;
  let held: OpenRequest | undefined;
  const agent = await muxPair(undefined, (request) => {
    if (hold) held = request;
    else agentChannel = request.accept({});
  });
  const records = new Map<string, SessionRecord>();
  const audits: { action: string; outcome: string; detail?: Record<string, unknown> }[] = [];
  const broker = createSessionBroker({
    store: {
      createSession: async (record: SessionRecord) => {
        records.set(record.id, { ...record });
      },
      getSession: async (id: string) => records.get(id),
      getInstance: async () => ({
        id: 'mi-0123456789abcdef0',
        name: 'web-01',
        kind: 'managed',
        tags: tags(),
      }),
      listSessions: async () => [],
      updateSession: async (id: string, change: Partial<SessionRecord>) => {
        if (change.state && failing.includes(change.state)) throw new Error('database is gone');
        if (change.state === 'Terminated') await endWritten; // a slow store, when the test says so
        if (change.state === 'Connected') await startWritten;
        const record = records.get(id);
        if (record) Object.assign(record, change);
      },
    } as never,
    hub: { get: () => ({ instanceId: 'mi-0123456789abcdef0', mux: agent.a }) } as never,
    inventory: {
      authorizedTarget: async () => ({
        id: 'mi-0123456789abcdef0',
        name: 'web-01',
        kind: 'managed',
        tags: {},
      }),
    } as never,
    authorize: (p: Principal, _action: string, _resource: string, context?: unknown) =>
      allowed() &&
      Date.now() - (p.mfaAt ?? 0) < mfaMaxAgeMs &&
      (context as { get?: (key: string) => unknown } | undefined)?.get?.('aws:resourcetag/project') !==
        'Production'
        ? { allowed: true, reason: 'test' }
        : { allowed: false, reason: 'no statement allows it (test)' },
    guard: () => {},
    audit: async (event: { action: string; outcome: string; detail?: Record<string, unknown> }) => {
      audits.push({ action: event.action, outcome: event.outcome, detail: event.detail });
      return !auditState.fails;
    },
    log,
    arn: { partition: 'aws', region: 'local', account: '000000000000' },
    dataDir,
    settings: { idleTimeoutMs: 60_000, maxDurationMs: 60_000, maxPerUser, maxRecordingMiB },
    ...(agentOpenTimeoutMs ? { agentOpenTimeoutMs } : {}),
    ...(startWriteTimeoutMs ? { startWriteTimeoutMs } : {}),
    ...(signedIn ? { stillSignedIn: async () => signedIn(), signInCheckMs: 20 } : {}),
  });
  const principal: Principal = {
    userId: 'u-1',
    username: 'alice',
    sourceAddress: null,
    signInSessionId: 'si-1',
    ...(mfaAt === undefined ? {} : { mfaAt }),
  };
  const client = await muxPair((request) => {
    broker.startShell(principal, request).catch((error) => errors.push(`escaped: ${error}`));
  });
  const opening = client.b.open({ kind: 'shell', target: 'web-01', cols: 80, rows: 24 });
  /** Another shell for the same person, over a connection of its own. */
  const openAnother = async () => {
    const another = await muxPair((request) => {
      broker.startShell(principal, request).catch((error) => errors.push(`escaped: ${error}`));
    });
    return another.b.open({ kind: 'shell', target: 'web-01', cols: 80, rows: 24 });
  };
  return {
    broker,
    principal,
    records,
    opening,
    openAnother,
    agentChannel: () => agentChannel,
    held: () => held,
    errors,
    audits,
    failAudit: (fails: boolean) => {
      auditState.fails = fails;
    },
  };
}

/** A session through setUp, opened: the client's channel and when it closes. */
async function session(failing: SessionRecord['state'][], auditFails = false) {
  const { opening, agentChannel, errors } = await setUp(failing, { auditFails });
  const channel = await opening;
  const closed = new Promise<{ code: string; message: string }>((resolve) => {
    channel.onClose = (code, message) => resolve({ code, message });
  });
  channel.onData = () => {};
  return { channel, closed, agentChannel, errors };
}

/** `promise`, or a failure naming `what` after two seconds. */
function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within 2 s`)), 2000);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describe('session broker, when the store fails', () => {
  it('ends a session whose start cannot be stored, and keeps running', async () => {
    const { closed, agentChannel, errors } = await session(['Connected']);
    const { code, message } = await within(closed, 'the client channel closes');
    assert.equal(code, 'SESSION_ENDED');
    assert.match(message, /could not be written to the store or the audit trail/);
    assert.equal(agentChannel()?.closed, true, 'the agent side is closed too');
    assert.ok(errors.includes('cannot record the start of the session'), errors.join('; '));
    assert.ok(!errors.some((e) => e.startsWith('escaped')), errors.join('; '));
  });

  it('ends a session whose start cannot be written to the audit trail', async () => {
    const { closed, agentChannel, errors } = await session([], true);
    const { code, message } = await within(closed, 'the client channel closes');
    assert.equal(code, 'SESSION_ENDED');
    assert.match(message, /could not be written to the store or the audit trail/);
    assert.equal(agentChannel()?.closed, true, 'the agent side is closed too');
    assert.ok(errors.includes('cannot record the start of the session'), errors.join('; '));
  });

  it('still ends a session whose end cannot be stored, and logs it', async () => {
    const { closed, agentChannel, errors } = await session(['Terminated']);
    await new Promise((r) => setTimeout(r, 10));
    agentChannel()?.exit(0, null);
    agentChannel()?.close('NORMAL', 'exited');
    const { code } = await within(closed, 'the client channel closes');
    assert.equal(code, 'NORMAL');
    // The recording closes (a flush to disk), then the store write fails: wait for it, up to 10 s.
    for (let i = 0; i < 1000 && !errors.includes('recording the end of the session failed'); i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.ok(errors.includes('recording the end of the session failed'), errors.join('; '));
    assert.ok(!errors.some((e) => e.startsWith('escaped')), errors.join('; '));
  });

  it('audits the end of a session whose end cannot be stored; reading its recording is audited', async () => {
    const { broker, principal, records, opening, agentChannel, audits, failAudit } = await setUp([
      'Terminated',
    ]);
    const channel = await within(opening, 'the session opens');
    channel.onData = () => {};
    await new Promise((r) => setTimeout(r, 10));
    agentChannel()?.exit(0, null);
    agentChannel()?.close('NORMAL', 'exited');
    for (let i = 0; i < 1000 && !audits.some((a) => a.action === 'sesame:SessionEnded'); i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(
      audits.map((a) => `${a.action} ${a.outcome} ${a.detail?.reason ?? ''}`),
      ['ssm:StartSession succeeded ', 'sesame:SessionEnded succeeded exited'],
    );
    const [id] = [...records.keys()];
    failAudit(true);
    await assert.rejects(broker.recordingPath(principal, id as string), {
      code: 'UNAVAILABLE',
      message: /could not be written to the audit trail, so the recording is not served/,
    });
    failAudit(false);
    await broker.recordingPath(principal, id as string);
    assert.deepEqual(audits.at(-1), {
      action: 'sesame:GetSessionRecording',
      outcome: 'succeeded',
      detail: { owner: 'alice' },
    });
  });
});

describe('session broker, terminating', () => {
  it('a session terminated while its shell was starting never reaches the person', async () => {
    const { broker, principal, records, opening, held } = await setUp([], { hold: true });
    for (let i = 0; i < 100 && !held(); i++) await new Promise((r) => setTimeout(r, 5));
    const [id] = [...records.keys()];
    await broker.terminate(principal, id as string);
    assert.equal(records.get(id as string)?.state, 'Terminated');
    const agentSide = (held() as OpenRequest).accept({}); // the agent answers late
    const closed = new Promise<string>((resolve) => {
      agentSide.onClose = (_code, message) => resolve(message);
    });
    await assert.rejects(within(opening, 'the open is answered'), /terminated by alice/);
    assert.match(await within(closed, 'the agent side closes'), /terminated by alice/);
    assert.equal(records.get(id as string)?.state, 'Terminated', 'not overwritten with Connected');
  });
});

describe('session broker, shutting down', () => {
  it('ends live sessions, ends one still connecting once its agent is gone, and waits for both to be written', async () => {
    const { broker, principal, records, opening, held } = await setUp([], { hold: true });
    for (let i = 0; i < 100 && !held(); i++) await new Promise((r) => setTimeout(r, 5));
    const [id] = [...records.keys()];
    await broker.shutdown();
    assert.equal(records.get(id as string)?.state, 'Connecting', 'still waiting for its agent');
    let settled = false;
    const settling = broker.settled().then(() => {
      settled = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(settled, false, 'settled() waits for the session still connecting');
    (held() as OpenRequest).reject('UNAVAILABLE', 'connection closed'); // the agents' connections close
    await within(settling, 'settled');
    assert.equal(records.get(id as string)?.state, 'Terminated');
    assert.equal(records.get(id as string)?.reason, 'cancelled because the server shut down');
    const cast = readFileSync(join(dataDir, records.get(id as string)?.recordingKey as string), 'utf8');
    assert.match(
      cast.trimEnd().split('\n').at(-1) ?? '',
      /session ended: cancelled because the server shut down/,
    );
    await assert.rejects(opening, /the session was cancelled because the server shut down before it started/);
    // A start after shutdown is refused at once.
    const late = await muxPair((request) => void broker.startShell(principal, request));
    await assert.rejects(late.b.open({ kind: 'shell', target: 'web-01', cols: 80, rows: 24 }), {
      code: 'UNAVAILABLE',
      message: /the server is shutting down/,
    });
  });
});

describe('session broker, a terminate while the session is ending', () => {
  it('waits for that end and does not write its own over it', async () => {
    let write: () => void = () => {};
    const endWritten = new Promise<void>((resolve) => {
      write = resolve;
    });
    const { broker, principal, records, opening, agentChannel } = await setUp([], { endWritten });
    const channel = await within(opening, 'the session opens');
    channel.onData = () => {};
    const [id] = [...records.keys()];
    agentChannel()?.exit(0, null);
    agentChannel()?.close('NORMAL', 'exited'); // the shell exits; the end's store write is slow
    await new Promise((r) => setTimeout(r, 20));
    let terminated = false;
    const terminating = broker.terminate(principal, id as string).then(() => {
      terminated = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(terminated, false, 'terminate waits for the end under way');
    write();
    await within(terminating, 'terminate');
    assert.equal(records.get(id as string)?.reason, 'exited', 'the end it waited for is the one recorded');
    const cast = readFileSync(join(dataDir, records.get(id as string)?.recordingKey as string), 'utf8');
    assert.match(cast.trimEnd().split('\n').at(-1) ?? '', /"session ended: exited \(exit status 0\)"/);
  });
});

describe('session broker, a session that ends while its start is being written', () => {
  it('writes its end after the start, so the row ends Terminated', async () => {
    let write: () => void = () => {};
    const startWritten = new Promise<void>((resolve) => {
      write = resolve;
    });
    const { broker, principal, records, opening } = await setUp([], { startWritten });
    const channel = await within(opening, 'the session opens');
    channel.onData = () => {};
    const [id] = [...records.keys()];
    const closed = new Promise<void>((resolve) => {
      channel.onClose = () => resolve();
    });
    // Terminated before the Connected row is written: the person is cut off at once, the rows wait.
    const terminating = broker.terminate(principal, id as string);
    await within(closed, 'the client channel closes');
    await new Promise((r) => setTimeout(r, 20));
    write();
    await within(terminating, 'terminate');
    assert.equal(records.get(id as string)?.state, 'Terminated');
    assert.match(records.get(id as string)?.reason ?? '', /terminated by alice/);
  });

  it('an agent that exits while the start is written: its exit and close are seen once the start is', async () => {
    let write: () => void = () => {};
    const startWritten = new Promise<void>((resolve) => {
      write = resolve;
    });
    const { records, opening, agentChannel } = await setUp([], { startWritten });
    const channel = await within(opening, 'the session opens');
    channel.onData = () => {};
    const [id] = [...records.keys()];
    const closed = new Promise<string>((resolve) => {
      channel.onClose = (code) => resolve(code);
    });
    agentChannel()?.exit(0, null);
    agentChannel()?.close('NORMAL', 'exited');
    await new Promise((r) => setTimeout(r, 20));
    write();
    assert.equal(await within(closed, 'the client channel closes'), 'NORMAL');
    for (let i = 0; i < 100 && records.get(id as string)?.state !== 'Terminated'; i++)
      await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(
      [
        records.get(id as string)?.state,
        records.get(id as string)?.reason,
        records.get(id as string)?.exitCode,
      ],
      ['Terminated', 'exited', 0],
    );
  });

  it('a store that never records the start ends the session after startWriteTimeoutMs, client gone or not', async () => {
    const { opening, agentChannel, errors, audits } = await setUp([], {
      startWritten: new Promise<void>(() => {}),
      startWriteTimeoutMs: 100,
    });
    const channel = await within(opening, 'the session opens');
    channel.onData = () => {};
    channel.close('NORMAL', 'the person left'); // not seen while the start is being written
    const agentSide = agentChannel() as Channel;
    const agentClosed = new Promise<string>((resolve) => {
      agentSide.onClose = (_code, message) => resolve(message);
    });
    assert.match(await within(agentClosed, 'the shell is hung up'), /could not be written/);
    assert.ok(errors.includes('cannot record the start of the session'), errors.join('; '));
    // The end does not wait for the start's row beyond a second limit; a start the store never took is not
    // audited as having succeeded.
    for (let i = 0; i < 200 && audits.length < 1; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(
      audits.map((a) => `${a.action} ${a.outcome}`),
      ['sesame:SessionEnded succeeded'],
    );
  });

  it("a start's row written after the end's is written over with the end's again", async () => {
    let write: () => void = () => {};
    const startWritten = new Promise<void>((resolve) => {
      write = resolve;
    });
    const { broker, principal, records, opening, audits } = await setUp([], {
      startWritten,
      startWriteTimeoutMs: 50,
    });
    const channel = await within(opening, 'the session opens');
    channel.onData = () => {};
    const [id] = [...records.keys()];
    await within(broker.terminate(principal, id as string), 'terminate waits at most for the second limit');
    assert.equal(records.get(id as string)?.state, 'Terminated');
    write(); // the held start's row lands now, after the end's
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(records.get(id as string)?.state, 'Terminated', 'the end written again');
    assert.deepEqual(
      audits.filter((a) => a.action === 'ssm:StartSession').map((a) => a.outcome),
      ['failed'],
      'a start written after the session was ended for want of it did not succeed',
    );
  });

  it('moves no byte, either way, until the start is in the store and the audit trail', async () => {
    let write: () => void = () => {};
    const startWritten = new Promise<void>((resolve) => {
      write = resolve;
    });
    const { opening, agentChannel, audits } = await setUp([], { startWritten, auditFails: true });
    const channel = await within(opening, 'the session opens');
    const toClient: string[] = [];
    channel.onData = (data) => void toClient.push(Buffer.from(data).toString());
    const closed = new Promise<string>((resolve) => {
      channel.onClose = (_code, message) => resolve(message);
    });
    const agentSide = agentChannel() as Channel;
    const toAgent: string[] = [];
    agentSide.onData = (data) => void toAgent.push(Buffer.from(data).toString());
    channel.write(new TextEncoder().encode('rm -rf ~/important\n'));
    agentSide.write(new TextEncoder().encode('$ '));
    await new Promise((r) => setTimeout(r, 30));
    assert.deepEqual([toAgent, toClient], [[], []], 'nothing relayed while the start is being written');
    write(); // the row is written; the audit trail refuses the start: the session ends unrelayed
    assert.match(await within(closed, 'the client channel closes'), /could not be written/);
    assert.deepEqual([toAgent, toClient], [[], []]);
    for (let i = 0; i < 200 && audits.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(
      audits.map((a) => `${a.action} ${a.outcome}`),
      ['ssm:StartSession succeeded', 'sesame:SessionEnded succeeded'],
    );
  });
});

describe('session broker, the size of a recording', () => {
  /** Floods one side with 2 MiB of 'x' on a 1 MiB limit: what the other side got, the recording, the end. */
  async function flood(from: 'agent' | 'client') {
    const { opening, agentChannel, records, audits } = await setUp([], { maxRecordingMiB: 1 });
    const channel = await within(opening, 'the session opens');
    const agentSide = agentChannel() as Channel;
    const [source, sink] = from === 'agent' ? [agentSide, channel] : [channel, agentSide];
    let received = 0;
    sink.onData = (data) => {
      received += data.length;
    };
    const closed = new Promise<string>((resolve) => {
      channel.onClose = (_code, message) => resolve(message);
    });
    const chunk = new Uint8Array(32 * 1024).fill(0x78); // 'x': recorded byte for byte
    for (let i = 0; i < 64; i++) source.write(chunk); // 2 MiB, as fast as credit allows
    const message = await within(closed, 'the client channel closes');
    const record = [...records.values()][0] as SessionRecord;
    for (let i = 0; i < 200 && record.state !== 'Terminated'; i++)
      await new Promise((r) => setTimeout(r, 10));
    const recording = readFileSync(join(dataDir, record.recordingKey as string), 'utf8');
    const code = from === 'agent' ? 'o' : 'i';
    const recordedBytes = recording
      .split('\n')
      .slice(1)
      .map((line) => (line ? (JSON.parse(line) as [number, string, string]) : undefined))
      .filter((event) => event?.[1] === code)
      .reduce((sum, event) => sum + (event as [number, string, string])[2].length, 0);
    return { message, received, recordedBytes, recording, record, audits };
  }

  for (const from of ['agent', 'client'] as const)
    it(`ends a session whose recording reached sessions.maxRecordingMiB (${from === 'agent' ? 'output' : 'input'}): what was relayed is what was recorded`, async () => {
      const { message, received, recordedBytes, recording, record, audits } = await flood(from);
      assert.match(
        message,
        /recording reached 1 MiB, the most one session may record \(sessions\.maxRecordingMiB\)/,
      );
      assert.ok(
        received >= 1024 * 1024 - 64 * 1024 && received < 2 * 1024 * 1024,
        `relayed ${received} bytes`,
      );
      assert.equal(recordedBytes, received, 'the chunk that reached the limit was relayed too');
      assert.ok(recording.length < 1024 * 1024 + 64 * 1024, `the recording holds ${recording.length} bytes`);
      assert.equal(record.state, 'Terminated');
      assert.ok(audits.some((a) => a.action === 'sesame:SessionEnded'));
    });
});

describe('session broker, sessions per person', () => {
  it('refuses one more than sessions.maxPerUser, and takes one again once a session ended', async () => {
    const { opening, openAnother, broker, principal, records } = await setUp([], { maxPerUser: 2 });
    const first = await within(opening, 'the first session opens');
    first.onData = () => {};
    const second = await within(openAnother(), 'the second session opens');
    second.onData = () => {};
    await assert.rejects(openAnother(), (error: ChannelRejectedError) => {
      assert.equal(error.code, 'RATE_LIMITED');
      assert.match(error.message, /already have 2 sessions open, the most one person may/);
      return true;
    });
    assert.equal(records.size, 2, 'the refused one left no session behind');
    const [id] = [...records.keys()];
    await broker.terminate(principal, id as string);
    const third = await within(openAnother(), 'a session opens once one ended');
    third.onData = () => {};
    assert.equal(broker.liveCount, 2);
  });
});

describe('session broker, sessions per person, with a slow store', () => {
  it('a session that ended frees its place even while the store still writes its end', async () => {
    let write: () => void = () => {};
    const endWritten = new Promise<void>((resolve) => {
      write = resolve;
    });
    const { opening, openAnother, broker, principal, records } = await setUp([], {
      maxPerUser: 1,
      endWritten,
    });
    const first = await within(opening, 'the first session opens');
    first.onData = () => {};
    const [id] = [...records.keys()];
    const terminating = broker.terminate(principal, id as string); // its end row waits for the store
    // Once its recording is closed (a moment), while its end row still waits.
    let second: Channel | undefined;
    for (let i = 0; i < 100 && !second; i++) {
      second = await openAnother().catch(() => undefined);
      if (!second) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(second, 'a session opens while the end of the first is being written');
    second.onData = () => {};
    write();
    await within(terminating, 'terminate');
  });
});

describe('session broker, the sign-in behind a session', () => {
  it('ends the session once the sign-in it was opened with has ended', async () => {
    let signedIn = true;
    const { opening, agentChannel } = await setUp([], { signedIn: () => signedIn });
    const channel = await within(opening, 'the session opens');
    const closed = new Promise<{ code: string; message: string }>((resolve) => {
      channel.onClose = (code, message) => resolve({ code, message });
    });
    channel.onData = () => {};
    await new Promise((resolve) => setTimeout(resolve, 100)); // checked a few times, still signed in
    assert.equal(channel.closed, false);
    signedIn = false; // signed out, revoked, or the account disabled
    const { code, message } = await within(closed, 'the client channel closes');
    assert.equal(code, 'SESSION_ENDED');
    assert.match(message, /the sign-in it was opened with ended/);
    assert.equal(agentChannel()?.closed, true, 'the shell is closed too');
  });
});

describe('session broker, the access behind a session', () => {
  for (const [what, change] of [
    ['the policies no longer allow it (a group left, a time window closed)', 'policy'],
    ['the instance was retagged to one the policies do not allow', 'tags'],
  ] as const)
    it(`ends the session once ${what}`, async () => {
      let allowed = true;
      let tags: Record<string, string> = { project: 'Development' };
      const { opening, agentChannel, audits } = await setUp([], {
        signedIn: () => true,
        allowed: () => allowed,
        tags: () => tags,
      });
      const channel = await within(opening, 'the session opens');
      const closed = new Promise<{ code: string; message: string }>((resolve) => {
        channel.onClose = (code, message) => resolve({ code, message });
      });
      channel.onData = () => {};
      await new Promise((resolve) => setTimeout(resolve, 100)); // checked a few times, still allowed
      assert.equal(channel.closed, false);
      if (change === 'policy') allowed = false;
      else tags = { project: 'Production' };
      const { code, message } = await within(closed, 'the client channel closes');
      assert.equal(code, 'SESSION_ENDED');
      assert.match(message, /^access was withdrawn: no statement allows it \(test\)$/);
      assert.equal(agentChannel()?.closed, true, 'the shell is closed too');
      await eventually(async () => audits.some((a) => a.action === 'sesame:SessionEnded'));
      const ended = audits.find((a) => a.action === 'sesame:SessionEnded');
      assert.match(String(ended?.detail?.reason), /access was withdrawn/);
    });
});

describe('session broker, the second factor behind a session', () => {
  it('is judged as old as it was at the start: a limit on its age does not end a running shell', async () => {
    // Proved 59m59.9s before the start, under a policy asking for MFA within the hour.
    const { opening } = await setUp([], {
      signedIn: () => true,
      mfaAt: Date.now() - 3_599_900,
      mfaMaxAgeMs: 3_600_000,
    });
    const channel = await within(opening, 'the session opens');
    channel.onData = () => {};
    await new Promise((resolve) => setTimeout(resolve, 400)); // checked many times, well past the hour
    assert.equal(channel.closed, false);
    channel.close();
  });
});

describe('session broker, an agent that does not answer', () => {
  it('fails the session with what happened and what to do, and closes a shell that starts late', async () => {
    const { records, opening, held, errors } = await setUp([], { hold: true, agentOpenTimeoutMs: 50 });
    await assert.rejects(
      within(opening, 'the open is answered'),
      /the agent on mi-0123456789abcdef0 \(web-01\) did not start the shell within 1 s; check the agent's log/,
    );
    const [record] = [...records.values()];
    assert.equal(record?.state, 'Failed');
    assert.match(record?.reason ?? '', /did not start the shell/);
    const late = (held() as OpenRequest).accept({}); // the agent answers after the session failed
    const closed = new Promise<string>((resolve) => {
      late.onClose = (_code, message) => resolve(message);
    });
    assert.equal(await within(closed, 'the late shell is closed'), 'the session failed to start');
    assert.deepEqual(errors, []);
  });
});

describe('session broker, the owner tag', () => {
  it('is in the request context of listing and reading sessions, as for terminating them', async () => {
    const records = new Map<string, SessionRecord>();
    for (const [id, ownerId] of [
      ['alice-00000000000000001', 'u-alice'],
      ['bob-00000000000000002', 'u-bob'],
    ] as const)
      records.set(id, { id, ownerId, owner: id.split('-')[0], startedAt: records.size } as SessionRecord);
    const ownOnly = (principal: Principal, _action: string, _resource: string, context?: unknown) => {
      const owner = (context as { entries(): Map<string, unknown> } | undefined)
        ?.entries()
        .get('aws:resourcetag/aws:ssmmessages:session-id');
      return { allowed: owner === principal.userId, reason: 'test' };
    };
    const broker = createSessionBroker({
      store: {
        getSession: async (id: string) => records.get(id),
        listSessions: async () => [...records.values()],
      } as never,
      hub: {} as never,
      inventory: {} as never,
      authorize: ownOnly as never,
      guard: (principal, action, resource, context) => {
        if (!ownOnly(principal, action, resource, context).allowed)
          throw new Error(`not allowed to ${action}`);
      },
      audit: async () => true,
      log: {} as Logger,
      arn: { partition: 'aws', region: 'local', account: '000000000000' },
      dataDir,
      settings: { idleTimeoutMs: 60_000, maxDurationMs: 60_000, maxPerUser: 32, maxRecordingMiB: 4096 },
    });
    const alice = { userId: 'u-alice', username: 'alice', sourceAddress: null };
    const listed = await broker.list(alice, 'history');
    assert.deepEqual(
      listed.map((s) => s.id),
      ['alice-00000000000000001'],
    );
    assert.equal((await broker.get(alice, 'alice-00000000000000001')).ownerId, 'u-alice');
    await assert.rejects(broker.get(alice, 'bob-00000000000000002'), /not allowed to ssm:DescribeSessions/);
    await assert.rejects(broker.get(alice, 'nobody-1'), /not allowed/, 'an unknown id tells nothing');
  });
});

describe('session broker, listing', () => {
  it("finds someone's own sessions behind many newer ones they may not see", async () => {
    const sessions: SessionRecord[] = [];
    for (let n = 0; n < 1203; n += 1) {
      const owner = n % 400 === 0 ? 'alice' : 'bob';
      sessions.push({ id: `${owner}-${String(n).padStart(17, '0')}`, owner, startedAt: n } as SessionRecord);
    }
    const newestFirst = [...sessions].sort((a, b) => b.startedAt - a.startedAt);
    const reads: number[] = [];
    const broker = createSessionBroker({
      store: {
        listSessions: async ({ limit = 200, after }: { limit?: number; after?: SessionRecord }) => {
          const from = after ? newestFirst.findIndex((s) => s.id === after.id) + 1 : 0;
          reads.push(from);
          return newestFirst.slice(from, from + limit);
        },
      } as never,
      hub: { get: () => undefined } as never,
      inventory: {} as never,
      authorize: (_principal, _action, resource) => ({
        allowed: /session\/alice-/.test(resource),
        reason: 'test',
      }),
      guard: () => {},
      audit: async () => true,
      log: {} as Logger,
      arn: { partition: 'aws', region: 'local', account: '000000000000' },
      dataDir,
      settings: { idleTimeoutMs: 60_000, maxDurationMs: 60_000, maxPerUser: 32, maxRecordingMiB: 4096 },
    });
    const listed = await broker.list(
      { userId: 'u-alice', username: 'alice', sourceAddress: null },
      'history',
    );
    assert.deepEqual(
      listed.map((s) => s.startedAt),
      [1200, 800, 400, 0],
    );
    assert.deepEqual(reads, [0, 500, 1000], 'read page by page');
  });
});

it('an idle timeout is told as a person says it', () => {
  assert.equal(spokenDuration(20 * 60_000), '20 minutes');
  assert.equal(spokenDuration(2500), '3 seconds');
  assert.equal(spokenDuration(1000), '1 second');
  assert.equal(spokenDuration(90_000), '90 seconds');
  assert.equal(spokenDuration(120_000), '2 minutes');
});
