import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Socket inodes a process holds open (from /proc/<pid>/fd). */
function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match?.[1]) inodes.add(match[1]);
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

/**
 * The sockets of a process that accept connections or datagrams: TCP in LISTEN state (0A) and any bound
 * UDP socket, IPv4 and IPv6. An outbound-only process has none.
 */
export function listeningSockets(pid: number): string[] {
  const mine = socketInodes(pid);
  const found: string[] = [];
  for (const table of ['tcp', 'tcp6', 'udp', 'udp6']) {
    const lines = readFileSync(`/proc/${pid}/net/${table}`, 'utf8').trim().split('\n').slice(1);
    for (const line of lines) {
      const fields = line.trim().split(/\s+/);
      const [local, state, inode] = [fields[1], fields[3], fields[9]];
      const listening = table.startsWith('udp') || state === '0A';
      if (listening && inode && mine.has(inode)) found.push(`${table} ${local}`);
    }
  }
  return found;
}

export function socketCount(pid: number): number {
  return socketInodes(pid).size;
}
