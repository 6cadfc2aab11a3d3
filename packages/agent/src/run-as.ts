import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export type RunAsUser = { name: string; uid: number; gid: number; home: string; shell: string };

export const DEFAULT_RUN_AS = 'sesame-user';

function lookup(name: string): RunAsUser | undefined {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const [user, , uid, gid, , home, shell] = line.split(':');
    if (user === name && uid && gid)
      return { name, uid: Number(uid), gid: Number(gid), home: home || '/', shell: shell || '/bin/sh' };
  }
  return undefined;
}

/**
 * The local account sessions run as. As root the agent creates the dedicated unprivileged `sesame-user`
 * (home directory, bash, no sudo) on first use. Not as root, it can only run sessions as itself.
 */
export function resolveRunAs(configured: string | undefined): { user: RunAsUser; note?: string } {
  const isRoot = process.getuid?.() === 0;
  if (!isRoot) {
    const self = lookup(process.env.USER ?? '') ?? {
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
  let user = lookup(name);
  if (!user && name === DEFAULT_RUN_AS) {
    const shell =
      lookup('root')?.shell.endsWith('bash') || process.env.SHELL?.endsWith('bash') ? '/bin/bash' : '/bin/sh';
    execFileSync('useradd', ['--create-home', '--shell', shell, '--comment', 'Sesame session user', name], {
      stdio: 'ignore',
    });
    user = lookup(name);
  }
  if (!user)
    throw new Error(`run-as user "${name}" does not exist on this machine; create it or configure another`);
  return { user };
}
