import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type AccountFiles, resolveRunAs } from './run-as.ts';

const dir = mkdtempSync(join(tmpdir(), 'sesame-run-as-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const script = (path: string, body: string) => {
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
};

let n = 0;
/**
 * A passwd file of our own, a useradd script that adds to it (or fails with `useradd`'s message), an `id` that
 * prints `groups`, and a `sudo -l` that prints `sudo` (empty: sudo is not installed).
 */
function accounts(
  passwd: string[],
  {
    groups = 'sesame-user',
    useradd = 'ok',
    sudo = '',
  }: { groups?: string; useradd?: string; sudo?: string } = {},
): AccountFiles {
  const at = join(dir, String(n++));
  const files = { passwd: `${at}-passwd`, useradd: `${at}-useradd`, id: `${at}-id`, sudo: `${at}-sudo` };
  writeFileSync(files.passwd, `root:x:0:0:root:/root:/bin/bash\n${passwd.join('\n')}\n`);
  script(
    files.useradd,
    useradd === 'ok'
      ? `for last; do :; done\necho "$last:x:1500:1500::/home/$last:/bin/bash" >> ${files.passwd}`
      : `echo "${useradd}" >&2\nexit 1`,
  );
  script(files.id, `[ "$1 $2" = "-Gn sesame-user" ] && echo "${groups}"`);
  if (sudo) script(files.sudo, `[ "$*" = "-n -l -U sesame-user" ] && printf '%s\\n' "${sudo}"`);
  return files;
}

const SESAME_USER = 'sesame-user:x:1500:1500::/home/s:/bin/bash';

describe('the account sessions run as (agent as root)', () => {
  it('creates sesame-user when it is missing, with bash like root', () => {
    const files = accounts([]);
    const { user } = resolveRunAs(undefined, files, true);
    assert.deepEqual(user, {
      name: 'sesame-user',
      uid: 1500,
      gid: 1500,
      home: '/home/sesame-user',
      shell: '/bin/bash',
    });
    assert.match(readFileSync(files.passwd, 'utf8'), /^sesame-user:/m);
  });

  it("says why useradd failed, in useradd's words", () => {
    const files = accounts([], { useradd: 'useradd: cannot lock /etc/passwd; try again later.' });
    assert.throws(
      () => resolveRunAs(undefined, files, true),
      /cannot create the run-as user "sesame-user" with useradd: useradd: cannot lock \/etc\/passwd; try again later\.; create it yourself/,
    );
  });

  it('uses an existing sesame-user with no privileges', () => {
    const files = accounts([SESAME_USER], {
      groups: 'sesame-user users',
      sudo: 'User sesame-user is not allowed to run sudo on web.',
    });
    assert.equal(resolveRunAs(undefined, files, true).user.uid, 1500);
  });

  it('refuses an existing sesame-user that is root or may become root, and says why and what to do', () => {
    const cases: Array<[string, Parameters<typeof accounts>[1], RegExp]> = [
      ['sesame-user:x:0:0::/home/s:/bin/bash', {}, /\(uid 0\)/],
      [SESAME_USER, { groups: 'sesame-user sudo' }, /\(group sudo\)/],
      [SESAME_USER, { groups: 'sesame-user wheel docker' }, /\(group wheel, group docker\)/],
      [SESAME_USER, { groups: 'lxd' }, /\(group lxd\)/],
      [SESAME_USER, { groups: 'libvirt incus-admin' }, /\(group libvirt, group incus-admin\)/],
      [SESAME_USER, { groups: 'sesame-user disk' }, /\(group disk\)/],
      [
        SESAME_USER,
        { sudo: 'User sesame-user may run the following commands on web:\n    (ALL) ALL' },
        /\(sudo rules\)/,
      ],
    ];
    for (const [line, options, why] of cases) {
      assert.throws(
        () => resolveRunAs(undefined, accounts([line], options), true),
        (error: Error) => {
          assert.match(error.message, why);
          assert.match(error.message, /the existing "sesame-user" account is or may be an administrator/);
          assert.match(error.message, /--run-as/);
          return true;
        },
      );
    }
  });

  it('refuses sesame-user when sudo cannot say whether it has rules; not when sudo says no with a failing status', () => {
    const files = accounts([SESAME_USER]);
    writeFileSync(files.sudo, '#!/bin/sh\necho "sudo: a sudoers source is unreachable" >&2\nexit 1\n');
    chmodSync(files.sudo, 0o755);
    assert.throws(
      () => resolveRunAs(undefined, files, true),
      /sudo -l could not tell whether it has sudo rules: sudo: a sudoers source is unreachable/,
    );
    writeFileSync(files.sudo, '#!/bin/sh\necho "sudo: sorry, you must have a tty to run sudo" >&2\nexit 1\n');
    assert.throws(
      () => resolveRunAs(undefined, files, true),
      /requiretty.*Defaults:root !requiretty.*--run-as sesame-user/,
    );
    writeFileSync(
      files.sudo,
      '#!/bin/sh\necho "User sesame-user is not allowed to run sudo on web."\nexit 1\n',
    );
    assert.equal(resolveRunAs(undefined, files, true).user.name, 'sesame-user');
  });

  it('refuses sesame-user when its groups cannot be read', () => {
    const files = accounts([SESAME_USER]);
    files.id = join(dir, 'no-such-id');
    assert.throws(() => resolveRunAs(undefined, files, true), /its groups could not be read/);
  });

  it('uses an account named with --run-as as it is, root included: that is the operator choosing', () => {
    const files = accounts(['ops:x:1700:27::/home/ops:/bin/bash'], { groups: 'sudo' });
    assert.equal(resolveRunAs('ops', files, true).user.name, 'ops');
    assert.equal(resolveRunAs('root', files, true).user.uid, 0);
    assert.throws(() => resolveRunAs('nobody-here', files, true), /run-as user "nobody-here" does not exist/);
  });
});
