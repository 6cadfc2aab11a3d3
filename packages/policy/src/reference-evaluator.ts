/**
 * TEST ONLY: a deliberately plain evaluator of raw policy JSON, written straight from the AWS evaluation
 * rules with RegExps and linear scans, no compilation, no caching, no indexes. evaluate.property.test.ts
 * checks the real evaluator against it on generated policies and requests. It covers the value forms the
 * generator produces (IPv4, ISO dates with Z, decimal numbers), not every accepted spelling.
 */
type Json = Record<string, unknown>;
export type RefContext = Record<string, string | string[]>;
export type RefRequest = { action: string; resource: string; context: RefContext };
export type RefEffect = 'Allow' | 'Deny' | 'ImplicitDeny';

const list = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const norm = (key: string) =>
  key
    .trim()
    .toLowerCase()
    .replace(/^ssm:resourcetag\//, 'aws:resourcetag/');

function lookup(context: RefContext, key: string): string | string[] | undefined {
  for (const [k, v] of Object.entries(context)) if (norm(k) === norm(key)) return v;
  return undefined;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Pattern text → RegExp source, or null when a variable cannot be resolved. */
function toRegExp(
  pattern: string,
  context: RefContext,
  variables: boolean,
  wildcards: boolean,
): string | null {
  let out = '';
  let i = 0;
  while (i < pattern.length) {
    if (variables && pattern.startsWith('${', i)) {
      const end = pattern.indexOf('}', i);
      const inner = pattern.slice(i + 2, end);
      i = end + 1;
      if (inner === '*' || inner === '?' || inner === '$') {
        out += escapeRegExp(inner);
        continue;
      }
      const [name, fallback] = inner.split(',').map((s) => s.trim());
      const value = lookup(context, name as string);
      const text = typeof value === 'string' ? value : fallback?.slice(1, -1);
      if (text === undefined) return null;
      out += escapeRegExp(text);
      continue;
    }
    const c = pattern.charAt(i++);
    out += wildcards && c === '*' ? '[\\s\\S]*' : wildcards && c === '?' ? '[\\s\\S]' : escapeRegExp(c);
  }
  return out;
}

function glob(pattern: string, input: string, context: RefContext, variables: boolean, flags = ''): boolean {
  const source = toRegExp(pattern, context, variables, true);
  return source !== null && new RegExp(`^${source}$`, flags).test(input);
}

const ipv4 = (s: string) => {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)(?:\/(\d+))?$/.exec(s);
  if (!m) return undefined;
  return {
    n: m.slice(1, 5).reduce((a, b) => a * 256 + Number(b), 0),
    bits: m[5] === undefined ? 32 : Number(m[5]),
  };
};

/** Does context value c satisfy one policy value v (before negation)? null = cannot tell (no match either way). */
function matchOne(
  base: string,
  c: string,
  v: string,
  context: RefContext,
  variables: boolean,
): boolean | null {
  const b = base.toLowerCase().replace(/not/, '');
  if (b.startsWith('string')) {
    const like = b === 'stringlike';
    const ignore = b === 'stringequalsignorecase';
    const source = toRegExp(v, context, variables, like);
    if (source === null) return false; // a variable with no value: null, equal to and like nothing
    return new RegExp(`^${source}$`, ignore ? 'i' : '').test(c);
  }
  if (b.startsWith('numeric') || b.startsWith('date')) {
    const parse = b.startsWith('numeric')
      ? Number
      : (s: string) => (/^\d+$/.test(s) ? Number(s) * 1000 : Date.parse(s));
    const x = c.trim() === '' ? Number.NaN : parse(c);
    const y = parse(v);
    if (Number.isNaN(x)) return null;
    const op = b.replace(/^(numeric|date)/, '');
    return (
      {
        equals: x === y,
        lessthan: x < y,
        lessthanequals: x <= y,
        greaterthan: x > y,
        greaterthanequals: x >= y,
      }[op] ?? false
    );
  }
  if (b === 'bool')
    return c.toLowerCase() === 'true' || c.toLowerCase() === 'false'
      ? c.toLowerCase() === v.toLowerCase()
      : null;
  if (b === 'ipaddress') {
    const ip = ipv4(c);
    const range = ipv4(v);
    if (!range) return null;
    if (ip?.bits !== 32) return false; // not an address: in no range
    const size = 2 ** (32 - range.bits);
    return Math.floor(ip.n / size) === Math.floor(range.n / size);
  }
  if (b === 'arnequals' || b === 'arnlike') {
    const cp = c.split(':');
    const vp = v.split(':');
    if (cp.length < 6 || cp[0] !== 'arn') return null;
    const parts = (p: string[]) => [...p.slice(0, 5), p.slice(5).join(':')];
    const cs = parts(cp);
    const sources = parts(vp).map((pattern) => toRegExp(pattern, context, variables, true));
    if (sources.some((source) => source === null)) return false;
    return sources.every((source, i) => new RegExp(`^${source}$`).test(cs[i] as string));
  }
  throw new Error(`reference: unsupported operator ${base}`);
}

function conditionHolds(
  operator: string,
  key: string,
  values: string[],
  context: RefContext,
  variables: boolean,
): boolean {
  const m = /^(?:(ForAnyValue|ForAllValues):)?(.*?)(IfExists)?$/i.exec(operator) as RegExpExecArray;
  const qualifier = m[1]?.toLowerCase();
  const base = m[2] as string;
  const raw = lookup(context, key);
  const present =
    raw !== undefined &&
    (typeof raw === 'string' ? !(qualifier !== undefined && raw === '') : raw.length > 0);
  if (base.toLowerCase() === 'null') return values.some((v) => (v.toLowerCase() === 'true') === !present);
  const negated = /not/i.test(base);
  if (!present) {
    if (m[3] || qualifier === 'forallvalues') return true;
    return qualifier === undefined && negated;
  }
  const single = (c: string) => {
    const results = values.map((v) => matchOne(base, c, v, context, variables));
    return negated ? results.every((r) => r === false) : results.some((r) => r === true);
  };
  if (typeof raw === 'string') return single(raw);
  if (qualifier === 'foranyvalue') return raw.some(single);
  if (qualifier === 'forallvalues') return raw.every(single);
  return false;
}

function applies(statement: Json, request: RefRequest, variables: boolean): boolean {
  const action = request.action.toLowerCase();
  const actionHit = (patterns: unknown) =>
    list(patterns).some((p) => glob(String(p).toLowerCase(), action, {}, false));
  const resourceHit = (patterns: unknown) =>
    list(patterns).some((p) => glob(String(p), request.resource, request.context, variables));
  const actionOk =
    statement.Action !== undefined ? actionHit(statement.Action) : !actionHit(statement.NotAction);
  const resourceOk =
    statement.Resource !== undefined ? resourceHit(statement.Resource) : !resourceHit(statement.NotResource);
  if (!actionOk || !resourceOk) return false;
  for (const [operator, block] of Object.entries((statement.Condition ?? {}) as Record<string, Json>)) {
    for (const [key, values] of Object.entries(block)) {
      if (!conditionHolds(operator, key, list(values).map(String), request.context, variables)) return false;
    }
  }
  return true;
}

export function referenceEvaluate(policies: Json[], request: RefRequest): RefEffect {
  let allowed = false;
  for (const policy of policies) {
    const variables = policy.Version === '2012-10-17';
    for (const statement of list(policy.Statement) as Json[]) {
      if (!applies(statement, request, variables)) continue;
      if (statement.Effect === 'Deny') return 'Deny';
      allowed = true;
    }
  }
  return allowed ? 'Allow' : 'ImplicitDeny';
}
