// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are spelled ${…} in policy text.
/**
 * Policy engine micro-benchmark (not a test; nothing here is asserted). Run:
 *   node --import tsx packages/policy/bench-policy.ts
 * Policies are shaped like the seeds: State Street ABAC statements (resource wildcards, resourceTag
 * conditions against principal-tag variables, one per tag group) among many statements for other actions,
 * plus the guide's ServiceSetting Deny. Reports decisions/s and p50/p99 per decision for 10, 1,000 and
 * 10,000 statements, and the time to list the instances a user may reach among 100,000.
 */
import { performance } from 'node:perf_hooks';
import {
  compilePolicies,
  type Decision,
  evaluate,
  evaluatorFor,
  parsePolicy,
  principalContext,
  type Request,
  resourceContext,
  type TargetEvaluator,
} from './src/index.ts';

const OTHER_SERVICES = ['ec2', 's3', 'logs', 'kms', 'iam', 'sts', 'cloudwatch', 'ssmmessages'];

function abacStatement(group: number) {
  const suffix = group === 1 ? '' : String(group);
  return {
    Sid: `SSMStartSession${suffix}`,
    Effect: 'Allow',
    Action: 'ssm:StartSession',
    Resource: ['arn:aws:ec2:*:*:instance/*', 'arn:aws:ssm:*:*:managed-instance/*'],
    Condition: {
      StringEquals: {
        'ssm:resourceTag/APP_GROUP_NAME': `\${aws:PrincipalTag/AppGroupName${suffix}}`,
        'ssm:resourceTag/RELEASE_ID': `\${aws:PrincipalTag/ReleaseId${suffix}}`,
        'ssm:resourceTag/APP_ID ': `\${aws:PrincipalTag/AppId${suffix}}`,
      },
    },
  };
}

/** `count` statements: one in 20 is a StartSession ABAC statement, the rest name other actions. */
function buildPolicy(count: number) {
  const statements: unknown[] = [
    { Effect: 'Deny', Action: ['ssm:ResetServiceSetting', 'ssm:UpdateServiceSetting'], Resource: '*' },
  ];
  let group = 1;
  for (let i = 1; i < count; i++) {
    if (i % 20 === 1) {
      statements.push(abacStatement(group++));
      continue;
    }
    const service = OTHER_SERVICES[i % OTHER_SERVICES.length];
    statements.push({
      Effect: 'Allow',
      Action: [`${service}:Describe${i}*`, `${service}:Get${i}`],
      Resource: `arn:aws:${service}:*:*:thing/${i}/*`,
      Condition: { StringLike: { 'aws:ResourceTag/owner': '${aws:username}' } },
    });
  }
  // Documents of 1,000 statements, as a permission set with several policies attached.
  const policies = [];
  for (let i = 0; i < statements.length; i += 1_000) {
    const parsed = parsePolicy(
      JSON.stringify({ Version: '2012-10-17', Statement: statements.slice(i, i + 1_000) }),
    );
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors.slice(0, 3)));
    policies.push({ id: `bench-${count}-${i / 1_000}`, policy: parsed.policy });
  }
  return { set: compilePolicies(policies), groups: group - 1 };
}

const tagsOf = (group: number) => ({
  APP_GROUP_NAME: `group${group}`,
  RELEASE_ID: `${group}.0`,
  APP_ID: `APP${group}`,
});
function principalTags(groups: number[]) {
  const tags: Record<string, string> = {};
  for (const [i, g] of groups.entries()) {
    const suffix = i === 0 ? '' : String(i + 1);
    Object.assign(tags, {
      [`AppGroupName${suffix}`]: `group${g}`,
      [`ReleaseId${suffix}`]: `${g}.0`,
      [`AppId${suffix}`]: `APP${g}`,
    });
  }
  return tags;
}
const instanceArn = (i: number) =>
  `arn:aws:ec2:local:000000000000:instance/i-${i.toString(16).padStart(17, '0')}`;

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
}

type Row = {
  statements: number;
  context: string;
  decisionsPerSecond: number;
  p50Micros: number;
  p99Micros: number;
  allowed: number;
};

function measure(statements: number, label: string, count: number, run: (i: number) => Decision): Row {
  const samples = statements >= 10_000 ? 50_000 : 200_000;
  for (let i = 0; i < 20_000; i++) run(i % count); // warm-up
  const times = new Float64Array(samples);
  let allowed = 0;
  for (let i = 0; i < samples; i++) {
    const start = process.hrtime.bigint();
    const decision = run(i % count);
    times[i] = Number(process.hrtime.bigint() - start) / 1000;
    if (decision.allowed) allowed++;
  }
  const batchStart = performance.now();
  for (let i = 0; i < samples; i++) run(i % count);
  const seconds = (performance.now() - batchStart) / 1000;
  times.sort();
  return {
    statements,
    context: label,
    decisionsPerSecond: Math.round(samples / seconds),
    p50Micros: percentile(times, 50),
    p99Micros: percentile(times, 99),
    allowed: allowed / samples,
  };
}

export type PolicyBenchResult = {
  decisions: Row[];
  listing: { instances: number; reachable: number; evaluateMs: number; evaluatorForMs: number };
};

export function runPolicyBench(): PolicyBenchResult {
  const rows: Row[] = [];
  for (const count of [10, 1_000, 10_000]) {
    const { set, groups } = buildPolicy(count);
    const tags = principalTags([1, Math.max(1, groups)]);
    const user = principalContext({ username: 'herman', userId: 'AROA:herman', tags });
    const instances = Array.from({ length: 64 }, (_, i) => ({
      arn: instanceArn(i),
      rawTags: tagsOf((i % (groups + 2)) + 1),
    }));
    const actions = [
      'ssm:StartSession',
      'ssm:StartSession',
      'ssm:StartSession',
      'ssm:DescribeSessions',
      'ssm:UpdateServiceSetting',
      'ec2:Describe77Things',
    ];
    const prepared: Request[] = instances.map((inst, i) => ({
      action: actions[i % actions.length] as string,
      resource: inst.arn,
      context: user.extend(resourceContext(inst.rawTags)),
    }));
    const plain: Request[] = instances.map((inst, i) => ({
      action: actions[i % actions.length] as string,
      resource: inst.arn,
      context: {
        'aws:username': 'herman',
        ...Object.fromEntries(Object.entries(tags).map(([k, v]) => [`aws:PrincipalTag/${k}`, v])),
        ...Object.fromEntries(Object.entries(inst.rawTags).map(([k, v]) => [`ssm:resourceTag/${k}`, v])),
      },
    }));
    const n = prepared.length;
    rows.push(measure(count, 'evaluate, prepared context', n, (i) => evaluate(set, prepared[i] as Request)));
    rows.push(measure(count, 'evaluate, plain object', n, (i) => evaluate(set, plain[i] as Request)));
    const evaluators = new Map(actions.map((a) => [a, evaluatorFor(set, a, user)]));
    const targets = instances.map((inst) => resourceContext(inst.rawTags));
    rows.push(
      measure(count, 'evaluatorFor', n, (i) => {
        const r = prepared[i] as Request;
        return (evaluators.get(r.action) as TargetEvaluator)(r.resource, targets[i]);
      }),
    );
  }

  // Worst cases: 1,000 statements all for StartSession, one per project tag value. Literal values and the
  // literal start or end of a pattern are indexed; `*P<i>*` has neither, so every statement is tried.
  for (const [label, value] of [
    ['1,000 x StringLike project=P<i>', (i: number) => `P${i}`],
    ['1,000 x StringLike project=P<i>-*', (i: number) => `P${i}-*`],
    ['1,000 x StringLike project=*-P<i>', (i: number) => `*-P${i}`],
    ['1,000 x StringLike project=*P<i>*', (i: number) => `*P${i}*`],
  ] as const) {
    const statements = Array.from({ length: 1_000 }, (_, i) => ({
      Effect: 'Allow',
      Action: 'ssm:StartSession',
      Resource: ['arn:aws:ec2:*:*:instance/*', 'arn:aws:ssm:*:*:managed-instance/*'],
      Condition: { StringLike: { 'ssm:resourceTag/project': [value(i)] } },
    }));
    const parsed = parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: statements }));
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors.slice(0, 3)));
    const set = compilePolicies([{ id: 'projects', policy: parsed.policy }]);
    const user = principalContext({ username: 'u', userId: 'u' });
    const requests: Request[] = Array.from({ length: 64 }, (_, i) => ({
      action: 'ssm:StartSession',
      resource: instanceArn(i),
      context: user.extend(resourceContext({ project: value(i * 37).replaceAll('*', 'x') })),
    }));
    rows.push(measure(1_000, label, requests.length, (i) => evaluate(set, requests[i] as Request)));
  }

  // Listing: which of 100,000 instances (in 50 tag groups) may a user holding 2 groups reach?
  const { set } = buildPolicy(1_000);
  const fleet = Array.from({ length: 100_000 }, (_, i) => ({
    arn: instanceArn(i),
    tags: resourceContext(tagsOf((i % 50) + 1)),
  }));
  const user = principalContext({ username: 'herman', userId: 'AROA:herman', tags: principalTags([3, 17]) });
  const timed = (list: () => unknown[]) => {
    list();
    const start = performance.now();
    const reachable = list().length;
    return { reachable, milliseconds: performance.now() - start };
  };
  const viaEvaluate = timed(() =>
    fleet.filter(
      (inst) =>
        evaluate(set, { action: 'ssm:StartSession', resource: inst.arn, context: user.extend(inst.tags) })
          .allowed,
    ),
  );
  const viaEvaluator = timed(() => {
    const decide = evaluatorFor(set, 'ssm:StartSession', user);
    return fleet.filter((inst) => decide(inst.arn, inst.tags).allowed);
  });
  return {
    decisions: rows,
    listing: {
      instances: fleet.length,
      reachable: viaEvaluator.reachable,
      evaluateMs: viaEvaluate.milliseconds,
      evaluatorForMs: viaEvaluator.milliseconds,
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { decisions, listing } = runPolicyBench();
  const lines = [
    'statements  path                               decisions/s    p50 µs    p99 µs  allowed',
    ...decisions.map(
      (r) =>
        `${String(r.statements).padStart(10)}  ${r.context.padEnd(33)} ${String(r.decisionsPerSecond).padStart(12)} ` +
        `${r.p50Micros.toFixed(2).padStart(9)} ${r.p99Micros.toFixed(2).padStart(9)}  ${(r.allowed * 100).toFixed(0).padStart(6)}%`,
    ),
    `listing (1,000 statements, 50 tag groups, user holds 2): ${listing.reachable} of ${listing.instances} instances;` +
      ` evaluate() per instance ${listing.evaluateMs.toFixed(1)} ms, evaluatorFor() ${listing.evaluatorForMs.toFixed(1)} ms`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
