/**
 * IPv4 and IPv6 addresses and CIDR ranges for IpAddress / NotIpAddress. An address is held as 8 16-bit
 * groups; IPv4 addresses (and IPv4-mapped IPv6 ::ffff:a.b.c.d) are kept apart from IPv6 by `v4`, so an
 * IPv4 range never matches an IPv6 address and vice versa. A bare address in a policy means /32 or /128.
 */
export type IpRange = { readonly v4: boolean; readonly groups: readonly number[]; readonly prefix: number };

const V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function parseV4(text: string): number[] | undefined {
  const m = V4.exec(text);
  if (!m) return undefined;
  const bytes: number[] = [];
  for (let i = 1; i <= 4; i++) {
    const part = m[i] as string;
    if (part.length > 1 && part.startsWith('0')) return undefined; // 010 could mean octal; refuse to guess
    const n = Number(part);
    if (n > 255) return undefined;
    bytes.push(n);
  }
  return bytes;
}

function parseV6(text: string): number[] | undefined {
  if (text.length > 45 || !/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  let tail: number[] = [];
  let body = text;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.')) {
    const v4 = parseV4(text.slice(lastColon + 1));
    if (!v4) return undefined;
    tail = [(v4[0] as number) * 256 + (v4[1] as number), (v4[2] as number) * 256 + (v4[3] as number)];
    body = text.slice(0, lastColon + 1);
    if (!body.endsWith('::')) body = body.slice(0, -1);
  }
  const halves = body.split('::');
  if (halves.length > 2) return undefined;
  const group = (s: string) => (s === '' ? [] : s.split(':'));
  const head = group(halves[0] ?? '');
  const rest = halves.length === 2 ? group(halves[1] ?? '') : [];
  const groups: number[] = [];
  for (const g of [...head, ...rest]) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
  }
  const explicit = head.length + rest.length + tail.length;
  if (halves.length === 1 && explicit !== 8) return undefined;
  if (halves.length === 2 && explicit > 7) return undefined;
  for (const g of head) groups.push(Number.parseInt(g, 16));
  for (let i = 0; i < 8 - explicit; i++) groups.push(0);
  for (const g of rest) groups.push(Number.parseInt(g, 16));
  groups.push(...tail);
  return groups.length === 8 ? groups : undefined;
}

/** An address → `{ v4, groups }`, or undefined. IPv4-mapped IPv6 addresses count as IPv4. */
export function parseIp(text: string): { v4: boolean; groups: number[] } | undefined {
  const v4 = parseV4(text);
  if (v4)
    return {
      v4: true,
      groups: [
        0,
        0,
        0,
        0,
        0,
        0xffff,
        (v4[0] as number) * 256 + (v4[1] as number),
        (v4[2] as number) * 256 + (v4[3] as number),
      ],
    };
  const v6 = parseV6(text);
  if (!v6) return undefined;
  const mapped = v6.slice(0, 5).every((g) => g === 0) && v6[5] === 0xffff;
  return { v4: mapped, groups: v6 };
}

/** "203.0.113.0/24", "2001:db8::/32" or a bare address → a range; undefined if malformed. */
export function parseCidr(text: string): IpRange | undefined {
  const slash = text.indexOf('/');
  const address = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!address) return undefined;
  const max = address.v4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const bits = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return undefined;
    prefix = Number(bits);
  }
  // IPv4 lives in the low 32 bits of the mapped form.
  return { v4: address.v4, groups: address.groups, prefix: address.v4 ? prefix + 96 : prefix };
}

/** Is the address inside the range? */
export function inRange(range: IpRange, address: { v4: boolean; groups: readonly number[] }): boolean {
  if (range.v4 !== address.v4) return false;
  let bits = range.prefix;
  for (let i = 0; i < 8 && bits > 0; i++) {
    const take = Math.min(16, bits);
    const mask = (0xffff << (16 - take)) & 0xffff;
    if (((range.groups[i] as number) & mask) !== ((address.groups[i] as number) & mask)) return false;
    bits -= take;
  }
  return true;
}
