import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export type RunAsUser = { name: string; uid: number; gid: number; home: string; shell: string };

export const DEFAULT_RUN_AS = 'sesame-user';

/**
 * Groups whose members may become root: sudo (Debian, Ubuntu), wheel (Red Hat), admin (old Ubuntu), and those
 * that hand out root by another door (docker, lxd/lxc, incus-admin, libvirt and microk8s run a root container or
 * machine with the host's disks mounted; disk reads and writes the raw disks).
 */
const ADMIN_GROUPS = new Set([
  'root',
  'sudo',
  'wheel',
  'admin',
  'docker',
  'lxd',
  'lxc',
  'incus-admin',
  'libvirt',
  'microk8s',
  'disk',
]);

/** Where the accounts are read from, and the programs that make and describe them; tests point these elsewhere. */
export type AccountFiles = { passwd: string; useradd: string; id: string; sudo: string };

const SYSTEM: AccountFiles = { passwd: '/etc/passwd', useradd: 'useradd', id: 'id', sudo: 'sudo' };

function lookup(name: string, files: AccountFiles): RunAsUser | undefined {
  for (const line of readFileSync(files.passwd, 'utf8').split('\n')) {
    const [user, , uid, gid, , home, shell] = line.split(':');
    if (user === name && uid && gid)
      return { name, uid: Number(uid), gid: Number(gid), home: home || '/', shell: shell || '/bin/sh' };
  }
  return undefined;
}

type Run = { stdout: string; stderr: string; missing: boolean; failed: boolean };

/** Runs a program (C locale, no input, 10 s at most) and says what it printed and whether it ran and succeeded. */
function run(program: string, args: string[]): Run {
  try {
    const stdout = execFileSync(program, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
      timeout: 10_000,
    });
    return { stdout, stderr: '', missing: false, failed: false };
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    return {
      stdout: e.stdout ?? '',
      stderr: e.stderr || e.message,
      missing: e.code === 'ENOENT',
      failed: true,
    };
  }
}

/**
 * Why `user` is or may be an administrator: root's uid, a group that makes it one (as `id` lists them, so from
 * LDAP or sssd too), or sudo rules for it. Anything that cannot be checked counts against it (fail closed),
 * except sudo not being installed at all.
 */
function privileges(user: RunAsUser, files: AccountFiles): string[] {
  if (user.uid === 0) return ['uid 0'];
  const id = run(files.id, ['-Gn', user.name]);
  if (id.failed) return [`its groups could not be read with ${files.id} -Gn: ${id.stderr.trim()}`];
  const why = id.stdout
    .trim()
    .split(/\s+/)
    .filter((group) => ADMIN_GROUPS.has(group))
    .map((group) => `group ${group}`);
  const sudo = run(files.sudo, ['-n', '-l', '-U', user.name]);
  if (sudo.stdout.includes('may run the following commands')) why.push('sudo rules');
  else if (/must have a tty/.test(sudo.stderr))
    why.push(
      'sudo -l could not tell whether it has sudo rules: sudoers says "requiretty" and the agent has no terminal; add "Defaults:root !requiretty", or pass --run-as sesame-user once you have checked it yourself',
    );
  else if (!sudo.missing && !sudo.stdout.includes('is not allowed to run sudo'))
    why.push(`sudo -l could not tell whether it has sudo rules: ${sudo.stderr.trim() || 'no answer'}`);
  return why;
}

function createUser(name: string, files: AccountFiles): void {
  const shell =
    lookup('root', files)?.shell.endsWith('bash') || process.env.SHELL?.endsWith('bash')
      ? '/bin/bash'
      : '/bin/sh';
  const made = run(files.useradd, [
    '--create-home',
    '--shell',
    shell,
    '--comment',
    'Sesame session user',
    name,
  ]);
  if (made.failed)
    throw new Error(
      `cannot create the run-as user "${name}" with useradd: ${made.stderr.trim()}; create it yourself (no sudo) or pass --run-as`,
    );
}

/**
 * The local account sessions run as. As root the agent creates the dedicated unprivileged `sesame-user`
 * (home directory, bash, no sudo) on first use, and refuses an existing `sesame-user` that is root or may become
 * root: every session would then be an administrator's without anyone having chosen that. An account named
 * with --run-as is the operator's choice and is used as it is. Not as root, the agent can only run sessions as
 * itself.
 */
export function resolveRunAs(
  configured: string | undefined,
  files: AccountFiles = SYSTEM,
  isRoot = process.getuid?.() === 0,
): { user: RunAsUser; note?: string } {
  if (!isRoot) {
    const self = lookup(process.env.USER ?? '', files) ?? {
      name: process.env.USER ?? 'unknown',
      uid: process.getuid?.() ?? 0,
      gid: process.getgid?.() ?? 0,
      home: process.env.HOME ?? '/',
      shell: process.env.SHELL ?? '/bin/sh',
    };
    return {
      user: self,
      note: `the agent is not running as root, so sessions run as its own user "${self.name}"`,
    };
  }
  const name = configured ?? DEFAULT_RUN_AS;
  let user = lookup(name, files);
  if (!user && name === DEFAULT_RUN_AS) {
    createUser(name, files);
    user = lookup(name, files);
  }
  if (!user)
    throw new Error(`run-as user "${name}" does not exist on this machine; create it or configure another`);
  if (configured === undefined) {
    const why = privileges(user, files);
    if (why.length > 0)
      throw new Error(
        `the existing "${name}" account is or may be an administrator (${why.join(', ')}), and sessions run as it by default: remove its privileges, or name the account sessions should run as with --run-as`,
      );
  }
  return { user };
}
