import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export type Opener = { command: string; args: string[] };

/** Whether an executable of that name is on PATH. */
export function onPath(name: string, path = process.env.PATH ?? ''): boolean {
  return path
    .split(delimiter)
    .filter(Boolean)
    .some((dir) => {
      try {
        accessSync(join(dir, name), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
}

/**
 * How to open a URL in the person's browser, or undefined when there is none to use (decided before any URL is
 * known, so the caller listens for the browser only when there is one): $BROWSER wins (its first entry; `%s` is
 * replaced by the URL, else the URL is appended); in an SSH session, or on Linux without a display, there is no
 * browser to show, so the caller falls back to the device code.
 */
export function browserOpener(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
  has: (name: string) => boolean = (name) => onPath(name, env.PATH),
): ((url: string) => Opener) | undefined {
  const configured = env.BROWSER?.split(':')[0]?.trim();
  if (configured) {
    const words = configured.split(/\s+/);
    return (url) => {
      const args = words.slice(1).map((w) => w.replaceAll('%s', url));
      if (!configured.includes('%s')) args.push(url);
      return { command: words[0] as string, args };
    };
  }
  if (env.SSH_CONNECTION || env.SSH_CLIENT || env.SSH_TTY) return undefined;
  if (platform === 'darwin') return (url) => ({ command: 'open', args: [url] });
  if (platform === 'win32')
    return (url) => ({ command: 'rundll32', args: ['url.dll,FileProtocolHandler', url] });
  if (!env.DISPLAY && !env.WAYLAND_DISPLAY) return undefined;
  return has('xdg-open') ? (url) => ({ command: 'xdg-open', args: [url] }) : undefined;
}

/** Starts the opener, detached; resolves false when it could not be started. */
export function openBrowser(opener: Opener): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(opener.command, opener.args, { stdio: 'ignore', detached: true });
    child.once('error', () => resolve(false));
    child.once('spawn', () => {
      child.unref();
      resolve(true);
    });
  });
}
