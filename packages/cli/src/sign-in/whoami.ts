import { isoTime } from '../output.ts';

export type Whoami = {
  userId: string;
  username: string;
  email?: string | null;
  groups?: unknown[];
  tags?: Record<string, string>;
  permissionSets?: unknown[];
  signIn?: {
    sessionId?: string;
    method?: string;
    provider?: string | null;
    expiresAt?: number;
    mfa?: { present?: boolean; authenticatedAt?: number | null; method?: string | null };
  };
};

/** "3 hours 5 minutes", "40 seconds": how long until `ms` from `now`. */
export function timeUntil(ms: number, now: number = Date.now()): string {
  const left = ms - now;
  if (left <= 0) return 'ended';
  const minutes = Math.floor(left / 60_000);
  if (minutes < 1) return `in ${Math.ceil(left / 1000)} seconds`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  const part = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;
  if (hours === 0) return `in ${part(minutes, 'minute')}`;
  return rest === 0 ? `in ${part(hours, 'hour')}` : `in ${part(hours, 'hour')} ${part(rest, 'minute')}`;
}

const names = (list: unknown[] | undefined) =>
  (list ?? [])
    .map((x) => (typeof x === 'object' && x !== null && 'name' in x ? String(x.name) : String(x)))
    .join(', ') || '-';

/** The lines `sesame whoami` prints. */
export function whoamiLines(user: Whoami, url: string, now: number = Date.now()): string[] {
  const s = user.signIn ?? {};
  const tags = Object.entries(user.tags ?? {}).map(([k, v]) => `${k}=${v}`);
  const via = s.method ? `${s.method}${s.provider ? ` (${s.provider})` : ''}` : '-';
  const mfa = s.mfa?.present
    ? `yes${s.mfa.method ? `, ${s.mfa.method}` : ''}${s.mfa.authenticatedAt ? ` at ${isoTime(s.mfa.authenticatedAt)}` : ''}`
    : 'no';
  const expires =
    typeof s.expiresAt === 'number' ? `${isoTime(s.expiresAt)} (${timeUntil(s.expiresAt, now)})` : '-';
  const rows: [string, string][] = [
    ['user', user.username],
    ['email', user.email || '-'],
    ['groups', names(user.groups)],
    ['tags', tags.join(', ') || '-'],
    ['permission sets', names(user.permissionSets)],
    ['signed in with', via],
    ['MFA', mfa],
    ['sign-in expires', expires],
    ['server', url],
  ];
  return rows.map(([k, v]) => `${`${k}:`.padEnd(17)}${v}`);
}

export function showWhoami(user: Whoami, url: string): void {
  process.stdout.write(`${whoamiLines(user, url).join('\n')}\n`);
}
