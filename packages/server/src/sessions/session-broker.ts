import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { resourceContext } from '@sesame/policy';
import type { Channel, OpenRequest } from '@sesame/protocol';
import type { AgentHub } from '../agents/agent-hub.ts';
import { type ArnSettings, instanceArn, SHELL_DOCUMENT, sessionArn } from '../arn.ts';
import type { Audit } from '../audit.ts';
import type { Authorize, Principal } from '../authorize.ts';
import type { ServerConfig } from '../config.ts';
import { randomHex } from '../crypto.ts';
import { SesameError } from '../errors.ts';
import type { Guard } from '../guard.ts';
import type { Logger } from '../log.ts';
import { createAsciicastRecorder, type Recorder } from '../recording/index.ts';
import { instanceContext } from '../services/instance-catalog.ts';
import type { InventoryService } from '../services/inventory.ts';
import type { SessionRecord, Store } from '../store/index.ts';
import { pipe } from './relay.ts';
import { createResizeCoalescer } from './resize-coalescer.ts';

/** What the agent types into the terminal when the client's input ends (^D). */
const END_OF_INPUT = Uint8Array.of(4);

type Deps = {
  store: Pick<Store, 'createSession' | 'getSession' | 'listSessions' | 'updateSession' | 'getInstance'>;
  hub: Pick<AgentHub, 'get'>;
  inventory: Pick<InventoryService, 'authorizedTarget'>;
  authorize: Authorize;
  guard: Guard;
  audit: Audit;
  log: Logger;
  arn: ArnSettings;
  dataDir: string;
  settings: ServerConfig['sessions'];
  now?: () => number;
  /** How long the agent may take to start a shell before the session fails (30 s). */
  agentOpenTimeoutMs?: number;
  /**
   * How long the start's store and audit writes may take before the session is ended (10 s): until they are done
   * nothing is relayed, and neither side's close is seen.
   */
  startWriteTimeoutMs?: number;
  /**
   * Whether the sign-in a session was opened with still holds (not signed out, revoked or expired, the account
   * not disabled): asked every `signInCheckMs` (10 s) while the session runs, which ends when the answer is no.
   */
  stillSignedIn?: (principal: Principal) => Promise<boolean>;
  signInCheckMs?: number;
};

type LiveSession = { record: SessionRecord; end: (reason: string) => Promise<void> };

/** `ms` as a person says it: "20 minutes", "90 seconds", "1 second" (under two minutes, in seconds). */
export function spokenDuration(ms: number): string {
  const [count, unit] =
    ms < 120_000 ? [Math.round(ms / 1000), 'second'] : [Math.round(ms / 60_000), 'minute'];
  return `${count} ${unit}${count === 1 ? '' : 's'}`;
}

const MAX_TERMINAL = 1000;
const SHUT_DOWN_BEFORE_START = 'cancelled because the server shut down';
const AGENT_OPEN_TIMEOUT_MS = 30_000;

const ok = () => true;

/** The agent did not answer an open in time (as opposed to refusing it). */
class AgentTimeout extends Error {}

/** `promise`, or a rejection with `timedOut()` (an AgentTimeout unless given) after `ms`. */
function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  timedOut = (): Error => new AgentTimeout(),
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timedOut()), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Sessions a listing returns, sessions read per page, and sessions read at most to find them. */
const LIST_LIMIT = 200;
const LIST_PAGE = 500;
const LIST_SCAN_LIMIT = 20_000;

function terminalSize(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_TERMINAL) {
    throw new SesameError('INVALID', `${name} must be a whole number from 1 to ${MAX_TERMINAL}`);
  }
  return value;
}

function sessionContext(session: SessionRecord | undefined) {
  return resourceContext(session ? { 'aws:ssmmessages:session-id': session.ownerId } : {});
}

function recordingKey(sessionId: string, startedAt: number): string {
  const day = new Date(startedAt).toISOString().slice(0, 10).replaceAll('-', '/');
  return `recordings/${day}/${sessionId}.cast`;
}

/** Starts, relays, times out, terminates and lists sessions; every live session has exactly one `end`. */
export function createSessionBroker(deps: Deps) {
  const {
    store,
    hub,
    inventory,
    authorize,
    guard,
    audit,
    log,
    arn,
    dataDir,
    settings,
    now = Date.now,
    agentOpenTimeoutMs = AGENT_OPEN_TIMEOUT_MS,
    startWriteTimeoutMs = 10_000,
    stillSignedIn,
    signInCheckMs = 10_000,
  } = deps;
  const live = new Map<string, LiveSession>();
  /** Sessions between their record and their relay: why each was terminated meanwhile, if it was. */
  const connecting = new Map<string, { terminated?: string }>();
  /** Set by shutdown(): no new session starts. */
  let stopping = false;
  /**
   * Sessions each person has starting or running (settings.maxPerUser at most): each holds buffers, a recording
   * and a shell, so one person cannot take the server's memory, or every agent's 64 shells, for themselves.
   */
  const perUser = new Map<string, number>();
  /** Takes one of the person's places, or refuses; the function given back frees it (once). */
  function takePlace(userId: string): () => void {
    const held = perUser.get(userId) ?? 0;
    if (held >= settings.maxPerUser)
      throw new SesameError(
        'RATE_LIMITED',
        `you already have ${held} sessions open, the most one person may (sessions.maxPerUser): end one first (\`sesame sessions\`, \`sesame terminate\`)`,
      );
    perUser.set(userId, held + 1);
    let freed = false;
    return () => {
      if (freed) return;
      freed = true;
      const left = (perUser.get(userId) ?? 1) - 1;
      if (left > 0) perUser.set(userId, left);
      else perUser.delete(userId);
    };
  }
  /** Starts and ends under way, which shutdown waits for (their recordings and store writes must finish). */
  const inflight = new Set<Promise<unknown>>();
  const track = <T>(work: Promise<T>): Promise<T> => {
    inflight.add(work);
    work.then(
      () => inflight.delete(work),
      () => inflight.delete(work),
    );
    return work;
  };

  /**
   * Store and audit writes made once a session's fate is decided (failed, or ended): when the store or the audit
   * trail fails, the failure is logged and the session still fails or ends as decided; an error left to escape
   * from these background paths would stop the server, and every other session with it.
   */
  async function logFailure(sessionId: string, what: string, write: () => Promise<unknown>): Promise<void> {
    try {
      await write();
    } catch (error) {
      log.error({ err: error, sessionId }, `${what} failed`);
    }
  }

  async function open(principal: Principal, spec: Record<string, unknown>) {
    // A client connection outlives the access token it was opened with: each shell asks again.
    if (stillSignedIn && !(await stillSignedIn(principal)))
      throw new SesameError(
        'UNAUTHENTICATED',
        'your sign-in has ended (signed out, revoked or expired): run `sesame login`',
      );
    const cols = terminalSize(spec.cols, 'cols');
    const rows = terminalSize(spec.rows, 'rows');
    const instance = await inventory.authorizedTarget(principal, 'ssm:StartSession', spec.target as string);
    const link = hub.get(instance.id);
    if (!link) {
      throw new SesameError(
        'UNAVAILABLE',
        `instance ${instance.id} (${instance.name}) is not connected (ConnectionLost): check that its agent is running`,
      );
    }
    const startedAt = now();
    const id = `${principal.username}-${randomHex(17)}`;
    const record: SessionRecord = {
      id,
      ownerId: principal.userId,
      owner: principal.username,
      instanceId: instance.id,
      document: SHELL_DOCUMENT,
      state: 'Connecting',
      reason: null,
      startedAt,
      endedAt: null,
      exitCode: null,
      recordingKey: recordingKey(id, startedAt),
      clientAddress: principal.sourceAddress,
    };
    await store.createSession(record);
    return { instance, link, record, cols, rows };
  }

  async function startShell(principal: Principal, request: OpenRequest): Promise<void> {
    if (stopping) {
      request.reject('UNAVAILABLE', 'the server is shutting down: try again in a moment');
      return;
    }
    let opened: Awaited<ReturnType<typeof open>>;
    let freePlace = () => {};
    try {
      freePlace = takePlace(principal.userId);
      opened = await open(principal, request.spec);
    } catch (error) {
      freePlace();
      const e =
        error instanceof SesameError
          ? error
          : new SesameError('INTERNAL', 'could not start the session', { cause: error });
      if (e.code === 'INTERNAL') log.error({ err: error }, 'session start failed');
      request.reject(e.code, e.message);
      return;
    }
    const { record } = opened;
    // A shutdown that came while this start was being checked marks it as it marks those already connecting.
    const pending: { terminated?: string } = stopping ? { terminated: SHUT_DOWN_BEFORE_START } : {};
    connecting.set(record.id, pending);
    try {
      // A session that goes live frees its place when it ends; any other, here.
      if (!(await connect(principal, request, opened, pending, freePlace))) freePlace();
    } catch (error) {
      freePlace();
      throw error;
    } finally {
      connecting.delete(record.id);
    }
  }

  async function connect(
    principal: Principal,
    request: OpenRequest,
    { instance, link, record, cols, rows }: Awaited<ReturnType<typeof open>>,
    pending: { terminated?: string },
    freePlace: () => void,
  ): Promise<boolean> {
    const resource = sessionArn(arn, record.id);
    let recorder: Recorder;
    let agent: Channel;
    /** Ended before it started (terminated, or the server shut down): recorded as such, the person told. */
    const cancelled = async (reason: string) => {
      await recorder.close(`session ended: ${reason}`).catch(() => {});
      // terminate() wrote this already, unless its write failed; shutdown() leaves it to here.
      await logFailure(record.id, 'recording the end of the session', () =>
        store.updateSession(record.id, { state: 'Terminated', reason, endedAt: now() }),
      );
      request.reject('SESSION_ENDED', `the session was ${reason} before it started`);
      return false;
    };
    /** The person's side went (its connection dropped, or it broke the protocol) before the session started. */
    const clientLeft = async (recorded?: Recorder) => {
      const reason =
        'the client left before the session started (its connection closed, or it broke the protocol)';
      await recorded?.close(`session failed: ${reason}`).catch(() => {});
      await logFailure(record.id, 'recording the failed start', () =>
        store.updateSession(record.id, { state: 'Failed', reason, endedAt: now() }),
      );
      await audit({
        actor: principal,
        action: 'ssm:StartSession',
        resource: instanceArn(arn, instance),
        outcome: 'failed',
        detail: { sessionId: record.id, reason },
      });
      return false;
    };
    if (!request.pending) return clientLeft();
    try {
      recorder = await createAsciicastRecorder({
        path: join(dataDir, record.recordingKey as string),
        width: cols,
        height: rows,
        startedAt: record.startedAt,
        title: `${record.owner} on ${instance.name} (${instance.id})`,
        env: { TERM: 'xterm-256color', SHELL: '/bin/bash' },
        meta: {
          sessionId: record.id,
          user: record.owner,
          instanceId: instance.id,
          instanceName: instance.name,
        },
      });
    } catch (error) {
      log.error({ err: error, sessionId: record.id }, 'cannot create the session recording');
      await logFailure(record.id, 'marking the session failed', () =>
        store.updateSession(record.id, {
          state: 'Failed',
          reason: 'recording could not be created',
          endedAt: now(),
        }),
      );
      request.reject(
        'UNAVAILABLE',
        'the session cannot be recorded right now, so it was not started; tell your administrator',
      );
      return false;
    }
    try {
      const opening = link.mux.open({ kind: 'shell', sessionId: record.id, cols, rows, user: record.owner });
      agent = await withTimeout(opening, agentOpenTimeoutMs).catch((error) => {
        // A shell the agent starts after all must not run with no one attached.
        opening.then(
          (late) => late.close('SESSION_ENDED', 'the session failed to start'),
          () => {},
        );
        throw error;
      });
    } catch (error) {
      // Terminated (or the server shut down) while it was connecting: the agent's failure is the consequence.
      if (pending.terminated !== undefined) return cancelled(pending.terminated);
      const message =
        error instanceof AgentTimeout
          ? `the agent on ${instance.id} (${instance.name}) did not start the shell within ${Math.ceil(agentOpenTimeoutMs / 1000)} s; check the agent's log on that server, then try again`
          : `the agent on ${instance.id} (${instance.name}) refused the session: ${(error as Error).message}`;
      await recorder.close(`session failed: ${message}`).catch(() => {});
      await logFailure(record.id, 'recording the failed start', () =>
        store.updateSession(record.id, { state: 'Failed', reason: message, endedAt: now() }),
      );
      await audit({
        actor: principal,
        action: 'ssm:StartSession',
        resource: instanceArn(arn, instance),
        outcome: 'failed',
        detail: { sessionId: record.id, reason: message },
      });
      request.reject('UNAVAILABLE', message);
      return false;
    }
    if (pending.terminated !== undefined) {
      // Terminated while it was connecting: the shell never reaches the person.
      agent.close('SESSION_ENDED', pending.terminated);
      return cancelled(pending.terminated);
    }
    if (!request.pending) {
      agent.close('SESSION_ENDED', 'the client left before the session started');
      return clientLeft(recorder);
    }
    const client = request.accept({
      sessionId: record.id,
      instanceId: instance.id,
      instanceName: instance.name,
    });
    let lastInputAt = now();
    let ended = false;
    let exitCode: number | null = null;
    /** The signal that ended the shell, when one did (then there is no exit status). */
    let exitSignal: string | null = null;
    const timers: NodeJS.Timeout[] = [];
    let accessTimer: NodeJS.Timeout | undefined;
    const resizes = createResizeCoalescer(
      (c, r) => {
        recorder.resize(c, r);
        agent.resize(c, r);
        checkRecordingSize();
      },
      { current: { cols, rows } },
    );
    // A session records at most sessions.maxRecordingMiB (a runaway `cat /dev/urandom` would fill the disk). Checked
    // after each chunk was recorded and relayed, so the one that reaches the limit is in both; then the session ends.
    const recordingLimit = settings.maxRecordingMiB * 1024 * 1024;
    const checkRecordingSize = () => {
      if (recorder.bytesRecorded >= recordingLimit)
        void end(
          `its recording reached ${settings.maxRecordingMiB} MiB, the most one session may record (sessions.maxRecordingMiB)`,
        );
    };

    // Every caller (exit, timeouts, terminate, shutdown) gets the one end, and waits for it to be written: the
    // session stays live until then, so a terminate meanwhile does not write its own end over this one.
    // (`ended` is set before finish() runs: closing the channels calls end() again, from their onClose.)
    let ending: Promise<void> | undefined;
    // The end's row is written after the start's (on a pool of connections the two could commit out of order),
    // but waits for it at most startWriteTimeoutMs more: a store that holds the start's write must not keep the
    // end out of the audit trail. A start's row written later still is written over with the end's again.
    let startRow: Promise<unknown> = Promise.resolve();
    let startWritten: Promise<unknown> = Promise.resolve();
    const end = (reason: string): Promise<void> => {
      if (!ended) {
        ended = true;
        ending = track(
          finish(reason).finally(() => {
            live.delete(record.id);
            freePlace();
          }),
        );
      }
      return ending ?? Promise.resolve();
    };
    const finish = async (reason: string) => {
      for (const timer of timers) clearTimeout(timer);
      clearTimeout(accessTimer);
      resizes.stop();
      client.close(reason === 'exited' ? 'NORMAL' : 'SESSION_ENDED', reason);
      agent.close(reason === 'exited' ? 'NORMAL' : 'SESSION_ENDED', reason);
      // A recording whose end could not be written (a full disk, a failed sync) is said to be incomplete in the
      // session's reason and its audit event, not only in the log.
      const recorded = await recorder
        .close(
          `session ended: ${reason}${exitCode === null ? '' : ` (exit status ${exitCode})`}${exitSignal ? ` (killed by ${exitSignal})` : ''}`,
        )
        .then(
          () => reason,
          (error: Error) => {
            log.error({ sessionId: record.id, err: error.message }, 'the recording is incomplete');
            return `${reason}; the recording is incomplete (${error.message})`;
          },
        );
      // The shell, the relay and the recording are gone: the person's place is free, whatever the store does next
      // (a store that hangs must not hold it).
      freePlace();
      const startDone = await withTimeout(startWritten.then(ok, ok), startWriteTimeoutMs).catch(() => false);
      // Each on its own: a store that cannot take the row must not keep the end out of the audit trail.
      const endRow = { state: 'Terminated', reason: recorded, endedAt: now(), exitCode } as const;
      const writeEnd = () =>
        logFailure(record.id, 'recording the end of the session', () =>
          store.updateSession(record.id, endRow),
        );
      await writeEnd();
      // Not tracked: a store that never answers must not hold up shutdown (a row left Connected is ended at the
      // next start).
      if (!startDone) void startRow.then(writeEnd, writeEnd);
      await audit({
        actor: principal,
        action: 'sesame:SessionEnded',
        resource,
        outcome: recorded === reason ? 'succeeded' : 'failed',
        detail: {
          reason: recorded,
          exitCode,
          ...(exitSignal ? { signal: exitSignal } : {}),
          instanceId: instance.id,
        },
      });
      log.info({ sessionId: record.id, reason: recorded, exitCode }, 'session ended');
    };

    // The start is in the store and the audit trail before a byte moves: no handler is set on either channel
    // yet, so what they send waits (within their windows), and a close meanwhile is seen once they are piped. A
    // store that hangs would leave the shell running with no one seeing either side go: it has a time limit.
    live.set(record.id, { record, end });
    // The event is written once the row is (a start the store never took did not succeed), with the time of now,
    // before any end's however late it lands.
    const writeStart = async () => {
      const at = now();
      const started = (outcome: 'succeeded' | 'failed', reason?: string) =>
        audit({
          actor: principal,
          action: 'ssm:StartSession',
          resource: instanceArn(arn, instance),
          outcome,
          at,
          detail: { sessionId: record.id, ...(reason ? { reason } : {}) },
        });
      startRow = store.updateSession(record.id, { state: 'Connected' });
      try {
        await startRow;
      } catch (error) {
        await started('failed', 'the session could not be written to the store');
        throw error;
      }
      // Written only after the session was ended for want of it: that start did not succeed.
      if (gaveUp)
        await started('failed', 'written to the store only after the session had been ended for want of it');
      else if (!(await started('succeeded'))) throw new Error('the audit trail could not be written');
    };
    let gaveUp = false;
    startWritten = writeStart();
    try {
      await withTimeout(
        startWritten,
        startWriteTimeoutMs,
        () =>
          new Error(`the start was not in the store and the audit trail within ${startWriteTimeoutMs} ms`),
      );
    } catch (error) {
      gaveUp = true;
      log.error({ err: error, sessionId: record.id }, 'cannot record the start of the session');
      await end('the session could not be written to the store or the audit trail, so it was ended');
      return true;
    }
    if (ended) return true; // terminated, or the server stopping, while the start was written
    pipe(agent, client, {
      write: (d) => recorder.output(d),
      onDrain: (cb) => recorder.onDrain(cb),
      relayed: checkRecordingSize,
    });
    pipe(
      client,
      agent,
      { write: (d) => recorder.input(d), onDrain: (cb) => recorder.onDrain(cb), relayed: checkRecordingSize },
      () => {
        lastInputAt = now();
      },
    );
    client.onResize = (c, r) => resizes.resize(Math.min(c, MAX_TERMINAL), Math.min(r, MAX_TERMINAL));
    agent.onEof = () => client.eof();
    // The client's input ended (`sesame ssh host < script`): the agent types ^D, so it is recorded as such.
    client.onEof = () => {
      recorder.input(END_OF_INPUT);
      agent.eof();
      checkRecordingSize();
    };
    agent.onExit = (code, signal) => {
      exitCode = code;
      exitSignal = signalName(signal);
      client.exit(code, exitSignal);
    };
    // What a peer says is shown to people and stored: one line, of a bounded length.
    agent.onClose = (code, message) =>
      void end(
        code === 'NORMAL' || code === ''
          ? 'exited'
          : code === 'TRANSPORT_CLOSED'
            ? `the agent disconnected: ${peerText(message)}`
            : code === 'KEEPALIVE_TIMEOUT'
              ? `the connection to the agent went silent: ${peerText(message)}`
              : `agent: ${peerText(message)}`,
      );
    client.onClose = (code, message) =>
      void end(
        code === 'NORMAL' || code === '' || code === 'TRANSPORT_CLOSED'
          ? 'client disconnected'
          : `client: ${peerText(message)}`,
      );
    recorder.onError(
      (error) => void end(`recording failed (${error.message}); a session is never left unrecorded`),
    );

    // One timer, re-armed in its own slot: a long busy session does not pile up a handle per check.
    const idleCheck = () => {
      const left = lastInputAt + settings.idleTimeoutMs - now();
      if (left <= 0) void end(`idle for ${spokenDuration(settings.idleTimeoutMs)} (idle timeout)`);
      else timers[idleSlot] = setTimeout(idleCheck, left);
    };
    const idleSlot = timers.push(setTimeout(idleCheck, settings.idleTimeoutMs)) - 1;
    // A shell must not outlive the sign-in it was opened with, nor the access that let it start: signing out,
    // revoking that sign-in or disabling the account ends it within signInCheckMs, and so does a policy change
    // that no longer allows ssm:StartSession on the instance as it is tagged now (a group left, a grant whose
    // time window closed, a retag to production), as a privileged-access system must.
    const stillAllowed = async (): Promise<string | undefined> => {
      if (stillSignedIn && principal.signInSessionId && !(await stillSignedIn(principal)))
        return 'the sign-in it was opened with ended (signed out, revoked or expired, or the account was disabled)';
      const current = await store.getInstance(instance.id);
      if (!current) return 'the instance was deregistered';
      // Judged as the start was, but for what changes: policies, tags, the time (a window that closed). The
      // second factor is as old as it was at the start: a session is not a new StartSession, and a policy asking
      // for MFA within the hour must not end every shell an hour after signing in.
      const asAtStart = principal.mfaAt
        ? { ...principal, mfaAt: principal.mfaAt + (now() - record.startedAt) }
        : principal;
      const decision = authorize(
        asAtStart,
        'ssm:StartSession',
        instanceArn(arn, current),
        instanceContext(current.tags),
      );
      return decision.allowed ? undefined : `access was withdrawn: ${decision.reason}`;
    };
    const accessCheck = () => {
      stillAllowed().then(
        (withdrawn) => {
          if (ended) return;
          if (withdrawn === undefined) accessTimer = setTimeout(accessCheck, signInCheckMs);
          else void end(withdrawn);
        },
        (error: unknown) => {
          log.warn(
            { err: error, sessionId: record.id },
            'cannot check the sign-in and access behind a session; will try again',
          );
          if (!ended) accessTimer = setTimeout(accessCheck, signInCheckMs);
        },
      );
    };
    accessTimer = setTimeout(accessCheck, signInCheckMs);
    timers.push(setTimeout(() => void end('maximum session duration reached'), settings.maxDurationMs));

    log.info({ sessionId: record.id, instanceId: instance.id, user: record.owner }, 'session started');
    return true;
  }

  // Sessions carry their owner's tag (sessionContext) for DescribeSessions too, so "only your own" conditions
  // written like State Street's TerminateSession statement work for listing and reading them.
  const visible = (principal: Principal, s: SessionRecord) =>
    authorize(principal, 'ssm:DescribeSessions', sessionArn(arn, s.id), sessionContext(s)).allowed;

  return {
    startShell: (principal: Principal, request: OpenRequest) => track(startShell(principal, request)),

    /**
     * The newest LIST_LIMIT sessions the principal may see. Visibility is a policy decision per session, so the
     * store is read page by page until that many are found; at most LIST_SCAN_LIMIT are read (someone who may
     * see few sessions among very many gets the ones found by then).
     */
    async list(principal: Principal, state: 'active' | 'history'): Promise<SessionRecord[]> {
      const found: SessionRecord[] = [];
      let after: SessionRecord | undefined;
      for (let read = 0; read < LIST_SCAN_LIMIT && found.length < LIST_LIMIT; ) {
        const page = await store.listSessions({ state, limit: LIST_PAGE, ...(after ? { after } : {}) });
        read += page.length;
        for (const s of page) if (found.length < LIST_LIMIT && visible(principal, s)) found.push(s);
        if (page.length < LIST_PAGE) break;
        after = page.at(-1);
      }
      return found;
    },

    async get(principal: Principal, id: string): Promise<SessionRecord> {
      const session = await store.getSession(id);
      // An unknown id is judged untagged, as in terminate: a caller who may not look learns nothing.
      guard(principal, 'ssm:DescribeSessions', sessionArn(arn, id), sessionContext(session));
      if (!session)
        throw new SesameError(
          'NOT_FOUND',
          `no session ${id}: run \`sesame sessions --state history\` to list yours`,
        );
      return session;
    },

    async terminate(principal: Principal, id: string): Promise<SessionRecord> {
      const session = await store.getSession(id);
      // Sessions carry the tag AWS gives them, aws:ssmmessages:session-id = the owner's user id (State Street's
      // "terminate only your own sessions" condition). An unknown id is judged untagged, so a caller who may
      // not terminate learns nothing about which sessions exist.
      guard(principal, 'ssm:TerminateSession', sessionArn(arn, id), sessionContext(session));
      if (!session)
        throw new SesameError(
          'NOT_FOUND',
          `no session ${id}: run \`sesame sessions\` to list active sessions`,
        );
      const running = live.get(id);
      const starting = connecting.get(id);
      if (running) await running.end(`terminated by ${principal.username}`);
      else if (session.state === 'Connecting' || session.state === 'Connected') {
        if (starting) starting.terminated = `terminated by ${principal.username}`;
        await store.updateSession(id, {
          state: 'Terminated',
          reason: `terminated by ${principal.username}`,
          endedAt: now(),
        });
      }
      await audit({
        actor: principal,
        action: 'ssm:TerminateSession',
        resource: sessionArn(arn, id),
        outcome: 'succeeded',
      });
      return (await store.getSession(id)) as SessionRecord;
    },

    /**
     * A session's recording holds every key typed in it (passwords at prompts that do not echo included), so
     * reading it is its own action, `sesame:GetSessionRecording`, on top of ssm:DescribeSessions: the AWS
     * policies in use grant DescribeSessions on "*" to everyone who may start sessions (AWS keeps session logs in
     * S3 and CloudWatch, under their own permissions).
     */
    async recordingPath(principal: Principal, id: string): Promise<string> {
      const session = await this.get(principal, id);
      guard(principal, 'sesame:GetSessionRecording', sessionArn(arn, id), sessionContext(session));
      if (!session.recordingKey) throw new SesameError('NOT_FOUND', `session ${id} has no recording`);
      const path = join(dataDir, session.recordingKey);
      // A stream that fails after the reply started cannot become a JSON error: look before serving.
      await access(path).catch(() => {
        throw new SesameError('NOT_FOUND', `the recording of session ${id} is missing on the server`);
      });
      // Who read whose keystrokes is on the record too, or the keystrokes are not served (as a session that
      // cannot be audited does not start).
      const audited = await audit({
        actor: principal,
        action: 'sesame:GetSessionRecording',
        resource: sessionArn(arn, id),
        outcome: 'succeeded',
        detail: { owner: session.owner },
      });
      if (!audited)
        throw new SesameError(
          'UNAVAILABLE',
          'the read could not be written to the audit trail, so the recording is not served; try again',
        );
      return path;
    },

    /**
     * Starts no more sessions and ends the live ones. Sessions still connecting end as soon as their agent answers
     * (or its connection closes): call settled() after closing the agents' connections.
     */
    async shutdown(): Promise<void> {
      stopping = true;
      for (const starting of connecting.values()) starting.terminated ??= SHUT_DOWN_BEFORE_START;
      await Promise.all([...live.values()].map((s) => s.end('the server shut down')));
    },

    /** Resolves once every start and end under way finished (recordings closed, store written). */
    async settled(): Promise<void> {
      while (inflight.size > 0) await Promise.allSettled([...inflight]);
    },

    get liveCount(): number {
      return live.size;
    },
  };
}

/**
 * A peer's close message as people see and the store keeps it: control and format characters (bidi overrides) and
 * line or paragraph separators replaced, at most 300 characters.
 */
function peerText(message: string): string {
  const line = message.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, '?');
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/** A signal's name as agents report it (SIGTERM); anything else is not passed on. */
function signalName(signal: string | null): string | null {
  return signal !== null && /^SIG[A-Z0-9]{1,12}$/.test(signal) ? signal : null;
}

export type SessionBroker = ReturnType<typeof createSessionBroker>;
