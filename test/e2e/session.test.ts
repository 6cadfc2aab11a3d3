/**
 * The walking skeleton end to end, with real processes: server, agent (PTY shell), CLI in a PTY.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { encodeFrame } from '@sesame/protocol';
import { parseAsciicast } from '@sesame/server';
import WebSocket from 'ws';
import { ADMIN_PASSWORD, bins, Output, recordings, runProcess, startSesame, stopChild } from './harness.ts';
import { listeningSockets, socketCount } from './listening-sockets.ts';

type Sesame = Awaited<ReturnType<typeof startSesame>>;

describe('a recorded shell session through Sesame', () => {
  let sesame: Sesame;
  let instanceId: string;
  let agent: ReturnType<Sesame['startAgent']>;

  before(async () => {
    sesame = await startSesame();
    const registered = await sesame.registerAgent('web-01', { tags: ['project=Production'] });
    instanceId = registered.instanceId;
    agent = sesame.startAgent(registered.identity);
    await sesame.waitForStatus(instanceId, 'Online');
  });
  after(async () => sesame?.stop());

  test('the instance is listed with its tags, inventory and status', async () => {
    const list = await sesame.cli(['instances', '--output', 'json']);
    assert.equal(list.code, 0, list.stderr);
    const instance = JSON.parse(list.stdout).instances.find((i: { id: string }) => i.id === instanceId);
    assert.match(instanceId, /^mi-[0-9a-f]{17}$/);
    assert.equal(instance.name, 'web-01');
    assert.equal(instance.tags.project, 'Production');
    assert.equal(instance.status, 'Online');
    assert.equal(instance.arn, `arn:aws:ssm:local:000000000000:managed-instance/${instanceId}`);
    assert.ok(instance.hostname.length > 0);
    const table = await sesame.cli(['instances']);
    assert.match(table.stdout, /ID\s+NAME\s+STATUS/);
    assert.match(table.stdout, new RegExp(`${instanceId}\\s+web-01\\s+Online`));
  });

  test('admin instances tag adds to the tags (the name stays), untag removes, --replace replaces', async () => {
    const tags = async (args: string[]) => {
      const r = await sesame.cli(['admin', 'instances', ...args, '--output', 'json']);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout).tags as Record<string, string>;
    };
    assert.deepEqual(await tags(['tag', 'web-01', 'owner=ops', 'tier=web']), {
      Name: 'web-01',
      project: 'Production',
      owner: 'ops',
      tier: 'web',
    });
    assert.deepEqual(await tags(['untag', instanceId, 'tier', 'owner']), {
      Name: 'web-01',
      project: 'Production',
    });
    const empty = await sesame.cli(['admin', 'instances', 'tag', 'web-01']);
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /give the tags to add, as key=value/);
    assert.deepEqual(await tags(['tag', '--replace', instanceId, 'Name=web-01', 'project=Production']), {
      Name: 'web-01',
      project: 'Production',
    });
  });

  test('admin audit reads the trail newest first, filtered, as a table or JSON', async () => {
    const json = await sesame.cli([
      'admin',
      'audit',
      '--action',
      'ssm:AddTagsToResource',
      '--limit',
      '2',
      '-o',
      'json',
    ]);
    assert.equal(json.code, 0, json.stderr);
    const { events } = JSON.parse(json.stdout) as {
      events: { action: string; resource: string; seq: number }[];
    };
    assert.equal(events.length, 2, 'the tag test before made more than two');
    assert.ok(events.every((e) => e.action === 'ssm:AddTagsToResource' && e.resource.endsWith(instanceId)));
    assert.ok((events[0]?.seq ?? 0) > (events[1]?.seq ?? 0), 'newest first');
    const table = await sesame.cli(['admin', 'audit', '--actor', 'admin', '--limit', '1']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(
      table.stdout,
      /^TIME\s+ACTOR\s+ACTION\s+OUTCOME\s+RESOURCE\s+SOURCE\n\d{4}-\d\d-\d\dT\S+\s+admin\s+/,
    );
    const bad = await sesame.cli(['admin', 'audit', '--since', 'yesterday']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /since must be a date and time in ISO 8601/);
  });

  test('the agent listens on no port, idle or serving a session', async () => {
    const pid = agent.child.pid as number;
    assert.ok(socketCount(pid) > 0, 'the agent holds its outbound connection');
    assert.deepEqual(listeningSockets(pid), []);
    const serverPort = new URL(sesame.url).port;
    assert.ok(
      listeningSockets(sesame.server.child.pid as number).some((s) =>
        s.endsWith(`:${Number(serverPort).toString(16).toUpperCase().padStart(4, '0')}`),
      ),
      'the same check finds the server listening',
    );
    const shell = sesame.shell(instanceId);
    await shell.output.wait(/Starting session/);
    assert.deepEqual(listeningSockets(pid), []);
    shell.pty.write('exit\r');
    assert.equal(await shell.exit, 0);
  });

  test('a shell runs commands, follows the terminal size, returns the exit status and is recorded', async () => {
    const shell = sesame.shell('web-01', 'admin', { cols: 80, rows: 24 });
    const [, sessionId] = await shell.output.wait(/Starting session with SessionId: (\S+)/);
    assert.match(sessionId as string, /^admin-[0-9a-f]{17}$/);
    shell.pty.write('echo "sum=$((6*7))"; whoami\r');
    await shell.output.wait(/sum=42/);
    shell.pty.write('stty size\r');
    await shell.output.wait(/\b24 80\r\n/);
    shell.pty.resize(120, 40);
    // The new size travels from the CLI's resize event to the agent's PTY: ask until it has arrived.
    for (let attempt = 1; ; attempt++) {
      shell.pty.write('stty size\r');
      const resized = await shell.output.wait(/\b40 120\r\n/, 2000).catch(() => undefined);
      if (resized) break;
      if (attempt === 10) assert.fail(`the size never reached the shell:\n${shell.output.text.slice(-2000)}`);
    }
    shell.pty.write('exit 7\r');
    assert.equal(await shell.exit, 7);
    // The shell's last output ("logout" from bash) comes before the goodbye, which is the last thing printed.
    assert.match(shell.output.text, /logout\r?\n[\s\S]*Exiting session with sessionId: \S+\.\s*$/);

    const session = await sesame.endedSession(sessionId as string);
    assert.equal(session.state, 'Terminated');
    assert.equal(session.exitCode, 7);
    assert.equal(session.reason, 'exited');

    const file = recordings(sesame.dataDir).find((f) => f.endsWith(`${sessionId}.cast`));
    assert.ok(file, 'the recording exists');
    const { header, events } = parseAsciicast(readFileSync(file, 'utf8'));
    assert.equal(header.version, 2);
    assert.equal(header.width, 80);
    assert.equal(header.height, 24);
    const input = events
      .filter((e) => e[1] === 'i')
      .map((e) => e[2])
      .join('');
    const output = events
      .filter((e) => e[1] === 'o')
      .map((e) => e[2])
      .join('');
    assert.match(input, /echo "sum=\$\(\(6\*7\)\)"; whoami\r/);
    assert.match(input, /exit 7\r/);
    assert.match(output, /sum=42/);
    assert.ok(
      events.some((e) => e[1] === 'r' && e[2] === '120x40'),
      'the resize is recorded',
    );
    assert.match(String(events.at(-1)?.[2]), /session ended: exited \(exit status 7\)/);
    const times = events.map((e) => e[0]);
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
      'event times never go backwards',
    );

    const viaApi = await sesame.cli(['recording', sessionId as string]);
    assert.equal(viaApi.code, 0);
    assert.equal(viaApi.stdout, readFileSync(file, 'utf8'));
  });

  test("a shell holds no other session's terminal and has only the run-as user's groups", async () => {
    // The agent runs as root and holds the first session's terminal while the second starts. (Here the agent has
    // no supplementary groups to leak; shell.test.ts gives it some.)
    const first = sesame.shell('web-01');
    await first.output.wait(/Starting session/);
    const second = sesame.shell('web-01');
    await second.output.wait(/Starting session/);
    // A leaked terminal shows as a descriptor on /dev/ptmx (the master side); its own are /dev/pts/N.
    second.pty.write('echo "masters=$(ls -l /proc/$$/fd | grep -c ptmx) groups=$(id -G)"\r');
    const [, masters, groups] = await second.output.wait(/masters=(\d+) groups=([\d ]+)\r\n/);
    assert.equal(masters, '0', "the second shell holds the first session's terminal");
    const expected = execFileSync('id', ['-G', 'sesame-user'], { encoding: 'utf8' }).trim();
    assert.equal(groups, expected, "the groups of sesame-user, not the agent's");
    second.pty.write('exit\r');
    first.pty.write('exit\r');
    assert.equal(await second.exit, 0);
    assert.equal(await first.exit, 0);
  });

  test('sesame ssh with piped input: the commands run, and the end of the input ends the shell (^D)', async () => {
    const cli = spawn(process.execPath, [bins.cli, 'ssh', 'web-01'], {
      env: { ...process.env, SESAME_HOME: sesame.home('admin') },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const output = new Output();
    const errors = new Output();
    cli.stdout.on('data', (d) => output.push(String(d)));
    cli.stderr.on('data', (d) => errors.push(String(d)));
    const exit = new Promise<number | null>((resolve) => cli.once('exit', resolve));
    cli.stdin.write('echo "piped=$((6*7))"; false\n');
    await output.wait(/piped=42/);
    // Ended once the shell waits at its prompt (the next test ends it earlier).
    await output.wait(/\$ $/);
    cli.stdin.end();
    const ended = await Promise.race([
      exit,
      new Promise((r) => setTimeout(() => r('still running'), 20_000)),
    ]);
    if (ended === 'still running') cli.kill('SIGKILL');
    assert.equal(ended, 1, 'the shell ends with the status of its last command (false)');
    const [, sessionId] = await errors.wait(/SessionId: (\S+)/);
    await sesame.endedSession(sessionId as string); // the server seals the recording, then marks the session ended
    const recording = recordings(sesame.dataDir).find((f) => f.endsWith(`${sessionId}.cast`)) as string;
    const { events } = parseAsciicast(readFileSync(recording, 'utf8'));
    assert.ok(
      events.some((e) => e[1] === 'i' && e[2] === '\u0004'),
      'the end of input is recorded as the ^D the agent typed',
    );
  });

  test('sesame ssh whose input ends at once (< /dev/null), or while a command runs: the shell still ends', async () => {
    // A ^D typed while the shell is still starting, or while a command runs, does not reach the shell's prompt:
    // the agent types it once the shell is at rest, again after more output.
    const run = async (stdin: 'ignore' | string) => {
      const cli = spawn(process.execPath, [bins.cli, 'ssh', 'web-01'], {
        env: { ...process.env, SESAME_HOME: sesame.home('admin') },
        stdio: [stdin === 'ignore' ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      });
      const output = new Output();
      cli.stdout?.on('data', (d) => output.push(String(d)));
      if (stdin !== 'ignore') cli.stdin?.end(stdin);
      const exit = new Promise<number | null>((resolve) => cli.once('exit', resolve));
      const ended = await Promise.race([
        exit,
        new Promise((r) => setTimeout(() => r('still running'), 20_000)),
      ]);
      if (ended === 'still running') cli.kill('SIGKILL');
      return { ended, output: output.text };
    };
    assert.equal((await run('ignore')).ended, 0);
    const slow = await run('sleep 1; echo "slept=$((6*7))"\n');
    assert.equal(slow.ended, 0);
    assert.match(slow.output, /slept=42/);
    // A command that rests many times before the prompt (a ^D typed at each rest); and one that reads the
    // terminal, which takes the end of the input as its own.
    const loop = await run('for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo "tick-$i"; sleep 0.3; done\n');
    assert.equal(loop.ended, 0);
    assert.match(loop.output, /tick-12/);
    const reader = await run('wc -l\nfirst line\nsecond line\n');
    assert.equal(reader.ended, 0);
    assert.match(reader.output, /^\s*2\s*$/m);
  });

  test('sesame ssh whose output reader went (| head): the session ends, cut off (255), not as a success', async () => {
    const cli = spawn(process.execPath, [bins.cli, 'ssh', 'web-01'], {
      env: { ...process.env, SESAME_HOME: sesame.home('admin') },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    cli.stdout?.destroy(); // the reader is gone: the first output written is EPIPE
    const errors = new Output();
    cli.stderr?.on('data', (d) => errors.push(String(d)));
    const exit = new Promise<number | null>((resolve) => cli.once('exit', resolve));
    cli.stdin?.write('echo "lost-$((6*7))"\n');
    const ended = await Promise.race([
      exit,
      new Promise((r) => setTimeout(() => r('still running'), 20_000)),
    ]);
    if (ended === 'still running') cli.kill('SIGKILL');
    assert.equal(ended, 255, errors.text);
    assert.match(errors.text, /ended: its output could not be written \(EPIPE\)/);
  });

  test('output still waiting for a slow reader when the shell exits all arrives, then the exit status', async () => {
    const shell = sesame.shell(instanceId);
    await shell.output.wait(/Starting session/);
    let xs = 0;
    shell.pty.onData((d) => {
      for (const c of d) if (c === 'Q') xs++;
    });
    shell.pty.pause(); // the person's terminal stops reading: credit runs out along the whole path
    shell.pty.write("stty -echo; head -c 3000000 /dev/zero | tr '\\0' '\\121'; exit 3\r");
    await new Promise((r) => setTimeout(r, 1500));
    shell.pty.resume();
    assert.equal(await shell.exit, 3);
    assert.equal(xs, 3_000_000);
  });

  test('a program still writing to the terminal after its shell exited does not hold the exit back', async () => {
    const shell = sesame.shell(instanceId);
    await shell.output.wait(/Starting session/);
    let bytes = 0;
    shell.pty.onData((d) => {
      bytes += d.length;
    });
    shell.pty.write('yes sesame & exit 4\r');
    assert.equal(await shell.exit, 4);
    // The agent takes at most 1 MiB after the exit (then closes the terminal): not 10 s of `yes`.
    assert.ok(bytes < 16 * 1024 * 1024, `${bytes} bytes after the exit`);
  });

  test('a terminated session takes its shell along, even one that ignores SIGHUP', async () => {
    const shell = sesame.shell(instanceId);
    const [, sessionId] = await shell.output.wait(/Starting session with SessionId: (\S+)/);
    shell.pty.write(`trap '' HUP; echo "shell-pid=$$"\r`);
    const [, pid] = await shell.output.wait(/shell-pid=(\d+)\r\n/);
    const alive = () => {
      try {
        process.kill(Number(pid), 0);
        return true;
      } catch {
        return false;
      }
    };
    assert.ok(alive());
    const terminated = await sesame.cli(['terminate', sessionId as string]);
    assert.equal(terminated.code, 0, terminated.stderr);
    for (let tries = 0; alive() && tries < 100; tries++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(alive(), false, `shell ${pid} still runs 10 s after its session ended`);
    assert.equal(await shell.exit, 255);
  });

  test('an administrator terminates a running session; the user sees why', async () => {
    const shell = sesame.shell(instanceId);
    const [, sessionId] = await shell.output.wait(/Starting session with SessionId: (\S+)/);
    const active = await sesame.cli(['sessions', '--output', 'json']);
    assert.ok(
      JSON.parse(active.stdout).sessions.some(
        (s: { id: string; state: string }) => s.id === sessionId && s.state === 'Connected',
      ),
    );
    const terminated = await sesame.cli(['terminate', sessionId as string]);
    assert.equal(terminated.code, 0, terminated.stderr);
    assert.match(terminated.stdout, /Terminated/);
    assert.equal(await shell.exit, 255);
    assert.match(shell.output.text, /ended: terminated by admin/);
  });

  test('unknown targets and offline instances are clear errors with distinct exit codes', async () => {
    const unknown = await sesame.cli(['ssh', 'no-such-server']);
    assert.equal(unknown.code, 5);
    assert.match(unknown.stderr, /no instance "no-such-server"/);

    const offline = await sesame.registerAgent('never-started');
    const result = await sesame.cli(['ssh', offline.instanceId]);
    assert.equal(result.code, 7);
    assert.match(result.stderr, /not connected/);
  });

  test('malformed and oversized frames close only the offending connection; a running session carries on', async () => {
    const shell = sesame.shell(instanceId);
    await shell.output.wait(/Starting session/);
    const { token } = JSON.parse(readFileSync(`${sesame.home('admin')}/credentials.json`, 'utf8'));
    const attack = async (payload: Buffer | string) => {
      const ws = new WebSocket(`${sesame.url.replace('http', 'ws')}/api/v1/connect`, {
        headers: { authorization: `Bearer ${token}` },
      });
      await new Promise((resolve) => ws.once('open', resolve));
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      ws.send(payload);
      return closed;
    };
    assert.equal(
      await attack(Buffer.from([0xff, 0, 0, 0, 1, 2, 3])),
      1002,
      'unknown frame type: protocol error',
    );
    assert.equal(await attack('{"type":"hello"}'), 1002, 'text messages are not frames');
    assert.equal(await attack(Buffer.alloc(2 * 1024 * 1024)), 1009, 'a message over the size limit');
    const bad = await attack(Buffer.from([2, 0, 0, 0, 1, 0, 0, 0, 1]));
    assert.equal(bad, 1002, 'an open before the handshake');
    // A goaway's code and message come back in the server's close: a code that names one of Object's own
    // properties, and a message whose characters fit the close frame but whose bytes do not.
    const goaway = (code: string, message: string) =>
      Buffer.from(encodeFrame({ type: 'goaway', code, message }));
    assert.equal(await attack(goaway('constructor', 'x')), 1002, 'an unknown close code');
    assert.equal(await attack(goaway('NORMAL', 'é'.repeat(100))), 1000, 'a long reason, cut to fit');
    shell.pty.write('echo still-alive\r');
    await shell.output.wait(/[\r\n]still-alive\r?\r\n/);
    shell.pty.write('exit\r');
    assert.equal(await shell.exit, 0);
  });

  test('deregistering an instance drops its agent at once and refuses it from then on', async () => {
    const doomed = await sesame.registerAgent('doomed');
    const doomedAgent = sesame.startAgent(doomed.identity);
    await sesame.waitForStatus(doomed.instanceId, 'Online');
    const removed = await sesame.cli(['admin', 'instances', 'delete', 'doomed']);
    assert.equal(removed.code, 0, removed.stderr);
    await doomedAgent.output.wait(/this instance was deregistered/);
    // It does not hammer the server (each refusal is an audit row): it says what to do and waits.
    await doomedAgent.output.wait(
      /the server does not accept this agent \(this instance was deregistered\): register it again with `sesame-agent register --force`.*retrying in (8|9|10|11|12|13|14|15) min/,
    );
    const ssh = await sesame.cli(['ssh', doomed.instanceId]);
    assert.equal(ssh.code, 5);
    const plain = await fetch(`${sesame.url}/api/v1/connect`);
    assert.equal(plain.status, 401, 'a plain request without a token is refused first');
    await stopChild(doomedAgent.child);
  });

  test('registering again over an existing identity is refused unless forced', async () => {
    const created = JSON.parse(
      (await sesame.cli(['admin', 'activations', 'create', '--output', 'json'])).stdout,
    );
    const identity = `${sesame.dir}/agent-web-01/identity.json`;
    const args = [
      bins.agent,
      'register',
      '--url',
      sesame.url,
      '--activation-id',
      created.activationId,
      '--activation-code',
      created.activationCode,
      '--identity',
      identity,
    ];
    const again = await runProcess(args);
    assert.equal(again.code, 1);
    assert.match(again.stderr, new RegExp(`already registered as ${instanceId}.*--force`));
    const wrongCode = await runProcess([
      ...args.slice(0, 7),
      'not-the-code',
      '--identity',
      `${sesame.dir}/other/identity.json`,
    ]);
    assert.equal(wrongCode.code, 1);
    assert.match(wrongCode.stderr, /activation id or code is wrong/);
  });

  test("a user cannot terminate or read someone else's session", async () => {
    const created = await sesame.cli(['admin', 'users', 'create', 'bob', '--output', 'json']);
    assert.equal(created.code, 0, created.stderr);
    const { setupToken } = JSON.parse(created.stdout);
    const bobSetup = await sesame.cli(
      ['setup', '--url', sesame.url],
      'bob',
      `${setupToken}\nbob-password-123456\n`,
    );
    assert.equal(bobSetup.code, 0, bobSetup.stderr);
    const history = await sesame.cli(['sessions', '--state', 'history', '--output', 'json']);
    const adminSession = JSON.parse(history.stdout).sessions[0].id as string;
    const bobSessions = await sesame.cli(['sessions', '--state', 'history', '--output', 'json'], 'bob');
    assert.deepEqual(JSON.parse(bobSessions.stdout).sessions, []);
    const terminate = await sesame.cli(['terminate', adminSession], 'bob');
    assert.equal(terminate.code, 4);
    assert.match(terminate.stderr, /not allowed to ssm:TerminateSession/);
    const read = await sesame.cli(['recording', adminSession], 'bob');
    assert.equal(read.code, 4);
    // Seeing that sessions exist (DescribeSessions on "*", as the AWS guide's permission sets grant) does not
    // let bob read what was typed in them: that takes sesame:GetSessionRecording.
    const policyFile = `${sesame.dir}/describe-all.json`;
    writeFileSync(
      policyFile,
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'ssm:DescribeSessions', Resource: '*' }],
      }),
    );
    for (const args of [
      ['groups', 'create', 'describers'],
      ['groups', 'add-member', 'describers', 'bob'],
      ['permission-sets', 'create', 'DescribeAll', '--inline-policy', policyFile],
      ['assignments', 'create', '--permission-set', 'DescribeAll', '--group', 'describers'],
    ]) {
      const done = await sesame.cli(['admin', ...args]);
      assert.equal(done.code, 0, `${args.join(' ')}: ${done.stderr}`);
    }
    const described = await sesame.cli(['sessions', '--state', 'history', '--output', 'json'], 'bob');
    assert.ok(JSON.parse(described.stdout).sessions.some((s: { id: string }) => s.id === adminSession));
    const stillNot = await sesame.cli(['recording', adminSession], 'bob');
    assert.equal(stillNot.code, 4);
    assert.match(stillNot.stderr, /not allowed to sesame:GetSessionRecording/);
    const reuse = await sesame.cli(
      ['setup', '--url', sesame.url],
      'bob',
      `${setupToken}\nanother-password-123\n`,
    );
    assert.equal(reuse.code, 3, 'a setup token works once');
  });

  test('killing the agent ends the session with a recorded end; the agent comes back by itself', async () => {
    const shell = sesame.shell(instanceId);
    const [, sessionId] = await shell.output.wait(/Starting session with SessionId: (\S+)/);
    shell.pty.write('echo before-crash\r');
    await shell.output.wait(/[\r\n]before-crash\r?\r\n/);
    await stopChild(agent.child, 'SIGKILL');
    assert.equal(await shell.exit, 255);
    // Said in words: not the WebSocket's close code (1006) alone.
    assert.match(
      shell.output.text,
      /ended: the agent disconnected: the connection was lost \(the network or the other side went away\)/,
    );
    await sesame.waitForStatus(instanceId, 'ConnectionLost');
    const file = recordings(sesame.dataDir).find((f) => f.endsWith(`${sessionId}.cast`)) as string;
    const { events } = parseAsciicast(readFileSync(file, 'utf8'));
    assert.match(
      String(events.at(-1)?.[2]),
      /session ended: the agent disconnected: the connection was lost/,
    );

    const identity = `${sesame.dir}/agent-web-01/identity.json`;
    agent = sesame.startAgent(identity);
    await sesame.waitForStatus(instanceId, 'Online');
  });

  test('after a server restart the agent reconnects by itself and sessions work again', async () => {
    await sesame.restartServer();
    await sesame.waitForStatus(instanceId, 'Online', 30_000);
    const shell = sesame.shell(instanceId);
    await shell.output.wait(/Starting session/);
    shell.pty.write('echo again-$((1+1))\r');
    await shell.output.wait(/again-2/);
    shell.pty.write('exit\r');
    assert.equal(await shell.exit, 0);
  });

  test('signing in with a wrong password fails without saying whether the user exists', async () => {
    const wrong = await sesame.cli(
      ['login', '--url', sesame.url, '--user', 'admin'],
      'eve',
      'not-the-password\n',
    );
    const nobody = await sesame.cli(
      ['login', '--url', sesame.url, '--user', 'nobody'],
      'eve',
      'not-the-password\n',
    );
    assert.equal(wrong.code, 3);
    assert.equal(nobody.code, 3);
    assert.equal(wrong.stderr, nobody.stderr);
    const right = await sesame.cli(
      ['login', '--url', sesame.url, '--user', 'admin'],
      'eve',
      `${ADMIN_PASSWORD}\n`,
    );
    assert.equal(right.code, 0, right.stderr);
  });
});
