/**
 * The instance list with 100,000 instances: `server.inventory.list(principal)` end to end (store read + policy
 * filtering) on a real server and SQLite store (fleet.ts), for the administrator (sees everything), testuser01
 * (project=Production: half) and a State Street user (one app group: 1%). Median of 5 listings each, broken
 * down into the store read (store.listInstances alone; its SQL vs turning rows into objects) and the filtering
 * (ARNs, resource contexts, policy decisions, public objects), plus GET /api/v1/instances through the HTTP
 * app (inject: routing, auth, JSON) and a probe of what an indexed pre-filter would read.
 *
 * Alone: node --import tsx bench/instance-list-bench.ts  (BENCH_INSTANCES, default 100000; BENCH_LIST_RUNS, 5)
 */

import { dirname } from 'node:path';
import { evaluatorFor, principalContext } from '@sesame/policy';
import Database from 'better-sqlite3';
import { instanceArn } from '../packages/server/src/arn.ts';
import { createAuthorizer } from '../packages/server/src/authorize.ts';
import { loadSecretsKey } from '../packages/server/src/secrets-key.ts';
import { instanceContext } from '../packages/server/src/services/instance-catalog.ts';
import { openStore } from '../packages/server/src/store/index.ts';
import type { Instance } from '../packages/server/src/store/types.ts';
import { APP_GROUPS, type Fleet, type FleetUser, STATE_STREET_GROUP, startFleet } from './fleet.ts';
import { median } from './measure.ts';
import { table } from './report.ts';

export type ListingRow = {
  user: string;
  visible: number;
  /** inventory.list(principal), median of the runs. */
  listMs: number;
  listRunsMs: number[];
  /** The store.listInstances() call inside each of those listings (timed in place), median. */
  storeMs: number;
  storeRunsMs: number[];
  /** What each listing spent besides its store read, median. */
  filterMs: number;
  /** What inventory.list does, step by step over the rows of one store read: median of 3 passes each. */
  steps: {
    arnsMs: number;
    contextsMs: number;
    decisionsMs: number;
    publicMs: number;
    /** The decisions via evaluatorFor reading `allowed` only. */
    allowedOnlyDecisionsMs: number;
  };
  http: { ms: number; megabytes: number; status: number };
};

export type ListingResults = {
  instances: number;
  runs: number;
  seeding: Fleet['seeding'];
  /** SQL time of one store.listInstances() (from a query listener) and the rows it returns. */
  store: { sqlMs: number; rows: number };
  prefilter: { label: string; ms: number; rows: number };
  rows: ListingRow[];
  durationSeconds: number;
};

const time = async <T>(run: () => Promise<T> | T): Promise<{ ms: number; value: T }> => {
  const start = performance.now();
  const value = await run();
  return { ms: performance.now() - start, value };
};

/**
 * Times store.listInstances() inside inventory.list(): the inventory service calls it on the server's store
 * object, so wrapping that method (here only) times the store read of each listing in place.
 */
function timeStoreReads(store: Fleet['server']['store']) {
  const original = store.listInstances;
  let lastMs = 0;
  let lastRows: Instance[] = [];
  store.listInstances = async () => {
    const start = performance.now();
    lastRows = await original();
    lastMs = performance.now() - start;
    return lastRows;
  };
  return {
    /** The store read of the listing just done (0 ms when it read nothing: the server keeps a catalog). */
    last: () => {
      const read = { ms: lastMs, rows: lastRows };
      lastMs = 0;
      return read;
    },
    restore: () => {
      store.listInstances = original;
    },
  };
}

/** The store's SQL time for one listInstances(), from a second store on the same file with a query listener. */
async function sqlTime(sqlitePath: string): Promise<number> {
  let sql = 0;
  // The fleet's server made its secrets key in the data directory (beside the database).
  const { box } = await loadSecretsKey({
    configured: undefined,
    dataDir: dirname(sqlitePath),
    create: false,
  });
  const store = await openStore({ sqlitePath, secrets: box, onQuery: (event) => (sql += event.durationMs) });
  try {
    await store.listInstances();
    return sql;
  } finally {
    await store.close();
  }
}

/** What an indexed pre-filter would read for the State Street user: one app group's instances and their tags. */
function prefilterProbe(sqlitePath: string, runs: number): ListingResults['prefilter'] {
  const db = new Database(sqlitePath, { readonly: true });
  try {
    const candidates = `SELECT instance_id FROM instance_tags WHERE key = 'APP_GROUP_NAME' AND value = ?`;
    const rows = db.prepare(`SELECT * FROM instances WHERE id IN (${candidates}) ORDER BY name, id`);
    const tags = db.prepare(
      `SELECT instance_id, key, value FROM instance_tags WHERE instance_id IN (${candidates})`,
    );
    const value = `grp-${STATE_STREET_GROUP}`;
    const read = () => [rows.all(value).length, tags.all(value).length];
    read();
    const times: number[] = [];
    let count = 0;
    for (let i = 0; i < runs; i++) {
      const start = performance.now();
      [count = 0] = read();
      times.push(performance.now() - start);
    }
    return {
      label: `APP_GROUP_NAME = ${value}, through the instance_tags_key_value index`,
      ms: median(times),
      rows: count,
    };
  } finally {
    db.close();
  }
}

function steps(fleet: Fleet, user: FleetUser, all: Instance[]): ListingRow['steps'] {
  const { server } = fleet;
  const arn = server.config.arn;
  const t0 = performance.now();
  const arns = all.map((i) => instanceArn(arn, i));
  const t1 = performance.now();
  const contexts = all.map((i) => instanceContext(i.tags));
  const t2 = performance.now();
  const { targets } = createAuthorizer({ model: server.model });
  const mayStart = targets(user.principal, 'ssm:StartSession');
  const allowed = all.filter((_, n) => mayStart(arns[n] as string, contexts[n]).allowed);
  const t3 = performance.now();
  const shown = allowed.map((instance) => {
    const { publicKey: _key, ...rest } = instance;
    const status = server.hub.isOnline(instance.id) ? 'Online' : 'ConnectionLost';
    return { ...rest, status, arn: instanceArn(arn, instance) };
  });
  const t4 = performance.now();
  // The same decisions straight from @sesame/policy, reading only `allowed` (authorize's targets() copies
  // `reason`, which for an implicit deny is worked out on reading).
  const access = server.model.forUser(user.principal.userId);
  if (!access) throw new Error(`${user.principal.username} has no access model`);
  const decide = evaluatorFor(
    access.policies,
    'ssm:StartSession',
    principalContext({
      username: access.username,
      userId: access.userId,
      tags: access.tags,
      sourceIp: user.principal.sourceAddress ?? '127.0.0.1',
    }),
  );
  const t5 = performance.now();
  const same = all.filter((_, n) => decide(arns[n] as string, contexts[n]).allowed).length;
  const t6 = performance.now();
  if (shown.length !== allowed.length || same !== allowed.length)
    throw new Error(`evaluatorFor allows ${same} instances, authorize ${allowed.length}`);
  return {
    arnsMs: t1 - t0,
    contextsMs: t2 - t1,
    decisionsMs: t3 - t2,
    publicMs: t4 - t3,
    allowedOnlyDecisionsMs: t6 - t5,
  };
}

function medianSteps(passes: ListingRow['steps'][]): ListingRow['steps'] {
  const at = (key: keyof ListingRow['steps']) => median(passes.map((p) => p[key]));
  return {
    arnsMs: at('arnsMs'),
    contextsMs: at('contextsMs'),
    decisionsMs: at('decisionsMs'),
    publicMs: at('publicMs'),
    allowedOnlyDecisionsMs: at('allowedOnlyDecisionsMs'),
  };
}

export async function runInstanceListBench(
  options: {
    instances?: number;
    runs?: number;
    say?: (text: string) => void;
    /** Told how to stop the server and remove its data while the bench runs (undefined once done). */
    track?: (stop: (() => Promise<void>) | undefined) => void;
  } = {},
): Promise<ListingResults> {
  const instances = options.instances ?? 100_000;
  const runs = options.runs ?? 5;
  const say = options.say ?? (() => {});
  const started = performance.now();
  say(
    `instance list: seeding ${instances.toLocaleString('en-US')} instances and the seed stories' users ...`,
  );
  const fleet = await startFleet(instances);
  options.track?.(fleet.close);
  try {
    const { server } = fleet;
    const reads = timeStoreReads(server.store);
    const rows: ListingRow[] = [];
    let all: Instance[] = [];
    for (const user of fleet.users) {
      say(`instance list: ${user.label} ...`);
      // No separate warm-up: the first listing also compiles the user's policies, as on a real server; the
      // median is not moved by one slow run.
      const listRunsMs: number[] = [];
      const storeRunsMs: number[] = [];
      let visible = 0;
      for (let run = 0; run < runs; run++) {
        const listed = await time(() => server.inventory.list(user.principal));
        listRunsMs.push(listed.ms);
        storeRunsMs.push(reads.last().ms);
        visible = listed.value.length;
      }
      all = reads.last().rows;
      const breakdown = medianSteps([1, 2, 3].map(() => steps(fleet, user, all)));
      const http = await time(() =>
        server.app.inject({
          method: 'GET',
          url: '/api/v1/instances',
          headers: { authorization: `Bearer ${user.token}` },
        }),
      );
      rows.push({
        user: user.label,
        visible,
        listMs: median(listRunsMs),
        listRunsMs,
        storeMs: median(storeRunsMs),
        storeRunsMs,
        filterMs: median(listRunsMs.map((ms, i) => ms - (storeRunsMs[i] ?? 0))),
        steps: breakdown,
        http: { ms: http.ms, megabytes: http.value.rawPayload.length / 1e6, status: http.value.statusCode },
      });
    }
    reads.restore();
    return {
      instances,
      runs,
      seeding: fleet.seeding,
      store: { sqlMs: await sqlTime(fleet.sqlitePath), rows: all.length },
      prefilter: prefilterProbe(fleet.sqlitePath, runs),
      rows,
      durationSeconds: (performance.now() - started) / 1000,
    };
  } finally {
    options.track?.(undefined);
    await fleet.close();
  }
}

const ms = (v: number) => `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ms`;
const first = (label: string) => label.split(' ')[0] ?? label;

export function renderInstanceList(r: ListingResults): string {
  const n = r.instances.toLocaleString('en-US');
  const body = r.rows.map((row) => [
    row.user,
    row.visible.toLocaleString('en-US'),
    ms(row.listMs),
    ms(row.storeMs),
    ms(row.filterMs),
    ms(row.steps.arnsMs),
    ms(row.steps.contextsMs),
    ms(row.steps.decisionsMs),
    ms(row.steps.publicMs),
    `${ms(row.http.ms)}, ${row.http.megabytes.toFixed(1)} MB${row.http.status === 200 ? '' : ` (HTTP ${row.http.status})`}`,
  ]);
  const s = r.seeding;
  return [
    '',
    `Instance list with ${n} instances (${APP_GROUPS} app groups; real server and SQLite store; seed policies)`,
    `list = inventory.list(principal) end to end, median of ${r.runs}; store read = its store.listInstances() ` +
      `call, timed in place (SQL ${ms(r.store.sqlMs)} of it; the rest turns ${r.store.rows.toLocaleString('en-US')} ` +
      'rows and their tags into objects); filtering = list - store read;',
    'itemized (median of 3 passes each): ARNs, tag contexts (resourceContext per instance), decisions ' +
      "(authorize's targets()), public objects; GET = the HTTP route through app.inject (auth, list, JSON), once",
    '',
    table(
      [
        'user',
        'sees',
        'list',
        'store read',
        'filtering',
        'ARNs',
        'tag contexts',
        'decisions',
        'public',
        'GET',
      ],
      body,
    ),
    '',
    `list runs (ms): ${r.rows.map((row) => `${first(row.user)} [${row.listRunsMs.map((v) => v.toFixed(0)).join(', ')}]`).join('; ')}`,
    `store reads within them (ms): ${r.rows.map((row) => `${first(row.user)} [${row.storeRunsMs.map((v) => v.toFixed(0)).join(', ')}]`).join('; ')}`,
    `decisions reading only .allowed (evaluatorFor directly; authorize's targets() also reads .reason): ${r.rows
      .map((row) => `${first(row.user)} ${ms(row.steps.allowedOnlyDecisionsMs)}`)
      .join(', ')}`,
    `an indexed pre-filter would read ${r.prefilter.rows.toLocaleString('en-US')} instances with their tags in ` +
      `${ms(r.prefilter.ms)} (${r.prefilter.label})`,
    `seeding: store.createInstance ${s.storeMsPerInstance.toFixed(2)} ms per instance ` +
      `(${((s.storeMsPerInstance * r.instances) / 1000).toFixed(0)} s for ${n}), so all but the first ` +
      `${s.throughStore} were inserted in one transaction (${s.bulkSeconds.toFixed(1)} s); ` +
      `${s.totalSeconds.toFixed(0)} s in all with users and policies`,
    `finished in ${r.durationSeconds.toFixed(0)} s`,
    '',
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const say = (text: string) => process.stdout.write(`${text}\n`);
  const result = await runInstanceListBench({
    instances: Number(process.env.BENCH_INSTANCES ?? 100_000),
    runs: Number(process.env.BENCH_LIST_RUNS ?? 5),
    say,
  });
  say(renderInstanceList(result));
}
