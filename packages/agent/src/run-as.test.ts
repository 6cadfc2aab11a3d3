import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type AccountFiles, resolveRunAs } from './run-as.ts';

const dir = mkdtempSync(join(tmpdir(), 'sesame-run-as-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** A passwd and group file of our own, and a useradd script that adds to that passwd file (or fails). */
function accounts(passwd: string[], group: string[], useradd = 'ok'): AccountFiles {
  const at = join(dir, String(n++));
  const files = { passwd: `${at}-passwd`, group: `${at}-group`, useradd: `${at}-useradd` };
  writeFileSync(files.passwd, `root:x:0:0:root:/root:/bin/bash\n${passwd.join('\n')}\n`);
  writeFileSync(files.group, `root:x:0:\nsudo:x:27:\nwheel:x:10:\nusers:x:100:\n${group.join('\n')}\n`);
  writeFileSync(
    files.useradd,
    useradd === 'ok'
      ? `#!/bin/sh\nfor last; do :; done\necho "$last:x:1500:1500::/home/$last:/bin/bash" >> ${files.passwd}\n`
      : `#!/bin/sh\necho "${useradd}" >&2\nexit 1\n`,
  );
  chmodSync(files.useradd, 0o755);
  return files;
}

describe('the account sessions run as (agent as root)', () => {
  it('creates sesame-user when it is missing, with bash like root', () => {
    const files = accounts([], []);
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
    const files = accounts([], [], 'useradd: cannot lock /etc/passwd; try again later.');
    assert.throws(
      () => resolveRunAs(undefined, files, true),
      /cannot create the run-as user "sesame-user" with useradd: useradd: cannot lock \/etc\/passwd; try again later\.; create it yourself/,
    );
  });

  it('refuses an existing sesame-user that is root or may become root, and says what to do', () => {
    const cases: Array<[string[], string[], RegExp]> = [
      [['sesame-user:x:0:0::/home/s:/bin/bash'], [], /\(uid 0\)/],
      [['sesame-user:x:1500:1500::/home/s:/bin/bash'], ['admins:x:1600:sesame-user', 'sudo2:x:1601:'], /^$/],
      [['sesame-user:x:1500:27::/home/s:/bin/bash'], [], /\(group sudo\)/],
      [['sesame-user:x:1500:1500::/home/s:/bin/bash'], ['admin:x:4:bob,sesame-user'], /\(group admin\)/],
    ];
    for (const [passwd, group, why] of cases) {
      const files = accounts(passwd, group);
      if (why.source === '^$') {
        assert.equal(resolveRunAs(undefined, files, true).user.uid, 1500);
        continue;
      }
      assert.throws(
        () => resolveRunAs(undefined, files, true),
        (error: Error) => {
          assert.match(error.message, why);
          assert.match(error.message, /the existing "sesame-user" account is an administrator/);
          assert.match(error.message, /--run-as/);
          return true;
        },
      );
    }
    // wheel through the group's member list as well
    const files = accounts(['sesame-user:x:1500:1500::/home/s:/bin/bash'], []);
    writeFileSync(files.group, 'wheel:x:10:alice,sesame-user\n');
    assert.throws(() => resolveRunAs(undefined, files, true), /\(group wheel\)/);
  });

  it('uses an account named with --run-as as it is, root included: that is the operator choosing', () => {
    const files = accounts(['ops:x:1700:27::/home/ops:/bin/bash'], []);
    assert.equal(resolveRunAs('ops', files, true).user.name, 'ops');
    assert.equal(resolveRunAs('root', files, true).user.uid, 0);
    assert.throws(() => resolveRunAs('nobody-here', files, true), /run-as user "nobody-here" does not exist/);
  });
});
