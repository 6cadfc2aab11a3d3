import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { spawn } from 'node-pty';
import { withGroupsOf } from './shell.ts';

const isRoot = process.getuid?.() === 0;
const getGroups = () => process.getgroups?.() ?? [];
const setGroups = (groups: number[]) => process.setgroups?.(groups);
/** `nobody` is on every Debian-like system; its only group is its primary one. */
const nobody = {
  name: 'nobody',
  uid: Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' })),
  gid: Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' })),
  home: '/',
  shell: '/bin/sh',
};

/** `id -G` as printed by a process node-pty starts as `nobody`. */
function groupsOfShell(): Promise<string> {
  const pty = spawn('/usr/bin/id', ['-G'], { uid: nobody.uid, gid: nobody.gid, encoding: 'utf8' });
  let out = '';
  pty.onData((d) => {
    out += d;
  });
  return new Promise((resolve) => pty.onExit(() => resolve(out.trim())));
}

describe('withGroupsOf', { skip: isRoot ? false : 'switching users needs root' }, () => {
  let own: number[] = [];
  before(() => {
    own = getGroups();
    // An agent started with sudo on some systems: root in group 0 and 6 (disk: raw access to every disk).
    setGroups([0, 6]);
  });
  after(() => setGroups(own));

  it("without it, node-pty's shell keeps the agent's groups (the hole it closes)", async () => {
    const groups = (await groupsOfShell()).split(' ');
    assert.ok(groups.includes('6'), `groups: ${groups.join(' ')}`);
  });

  it("gives the shell the user's groups only, and puts the agent's back", async () => {
    const shell = await withGroupsOf(nobody, groupsOfShell);
    assert.equal(shell, execFileSync('id', ['-G', 'nobody'], { encoding: 'utf8' }).trim());
    assert.deepEqual(
      getGroups().filter((g) => g !== 0),
      [6],
    );
  });

  it('puts the groups back when spawning throws', () => {
    assert.throws(() =>
      withGroupsOf(nobody, () => {
        throw new Error('spawn failed');
      }),
    );
    assert.ok(getGroups().includes(6));
  });

  it('leaves the groups alone without a user (the agent is not root)', () => {
    const seen = withGroupsOf(undefined, getGroups);
    assert.ok(seen.includes(6));
  });
});
