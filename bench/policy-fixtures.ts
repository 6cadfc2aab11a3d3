/**
 * Policies and requests for the policy benchmark, shaped like the seeds (packages/policy/fixtures): the AWS
 * guide's permission sets (Describe* on *, StartSession on `ssm:resourceTag/project`, TerminateSession on
 * `session/${aws:username}-*`, the ServiceSetting Deny), State Street's ABAC statements (three resource tags
 * against `${aws:PrincipalTag/…N}`, one statement per tag group), a few Denies on StartSession, and many
 * statements for other actions and services, so most statements do not match a given request.
 */
import {
  type CompiledPolicySet,
  compilePolicies,
  parsePolicy,
  principalContext,
  type RequestContext,
  resourceContext,
} from '@sesame/policy';

type Statement = Record<string, unknown>;
export type Tags = Record<string, string>;

const INSTANCES = ['arn:aws:ec2:*:*:instance/*', 'arn:aws:ssm:*:*:managed-instance/*'];
/** Statements per policy document: a permission set holds several managed policies. */
const STATEMENTS_PER_POLICY = 250;
const SERVICES = ['ec2', 's3', 'logs', 'kms', 'iam', 'ssm', 'rds', 'lambda', 'dynamodb', 'sqs', 'sns', 'ssm'];
const VERBS = ['Describe', 'Get', 'List', 'Put', 'Create', 'Delete', 'Update', 'Send'];

/** State Street's StartSession statement for tag group n (1 → no suffix; n ≥ 2 → AppGroupName<n> …). */
export function abacStatement(n: number): Statement {
  const suffix = n === 1 ? '' : String(n);
  return {
    Sid: `SSMStartSession${suffix}`,
    Effect: 'Allow',
    Action: 'ssm:StartSession',
    Resource: INSTANCES,
    Condition: {
      StringEquals: {
        'ssm:resourceTag/APP_GROUP_NAME': `\${aws:PrincipalTag/AppGroupName${suffix}}`,
        'ssm:resourceTag/RELEASE_ID': `\${aws:PrincipalTag/ReleaseId${suffix}}`,
        // Verbatim from the seed, trailing space included.
        'ssm:resourceTag/APP_ID ': `\${aws:PrincipalTag/AppId${suffix}}`,
      },
    },
  };
}

/** The ten statements every size has: the guide's and State Street's, and two Denies on StartSession. */
function core(): Statement[] {
  return [
    {
      Sid: 'VisualEditor0',
      Effect: 'Allow',
      Action: [
        'ssm:DescribeSessions',
        'ssm:DescribeInstanceProperties',
        'ec2:DescribeInstances',
        'ssm:GetConnectionStatus',
      ],
      Resource: '*',
    },
    {
      Effect: 'Allow',
      Action: ['ssm:StartSession'],
      Resource: INSTANCES,
      Condition: { StringLike: { 'ssm:resourceTag/project': ['Production'] } },
    },
    {
      Effect: 'Allow',
      Action: ['ssm:TerminateSession'],
      Resource: ['arn:aws:ssm:*:*:session/${aws:username}-*'],
    },
    { Effect: 'Deny', Action: ['ssm:ResetServiceSetting', 'ssm:UpdateServiceSetting'], Resource: '*' },
    { Effect: 'Allow', Action: ['ssm:GetServiceSetting'], Resource: '*' },
    abacStatement(1),
    {
      Sid: 'SSMTerminateSession',
      Effect: 'Allow',
      Action: 'ssm:TerminateSession',
      Resource: 'arn:aws:ssm:*:*:session/*',
      Condition: { StringLike: { 'ssm:resourceTag/aws:ssmmessages:session-id': ['${aws:userid}'] } },
    },
    {
      Sid: 'DenyWithoutMfa',
      Effect: 'Deny',
      Action: 'ssm:StartSession',
      Resource: '*',
      Condition: { BoolIfExists: { 'aws:MultiFactorAuthPresent': 'false' } },
    },
    {
      Sid: 'DenyRestricted',
      Effect: 'Deny',
      Action: 'ssm:StartSession',
      Resource: INSTANCES,
      Condition: { StringEquals: { 'ssm:resourceTag/Classification': 'restricted' } },
    },
    {
      Effect: 'Allow',
      Action: ['s3:GetObject', 's3:PutObject'],
      Resource: 'arn:aws:s3:::home-${aws:username}/*',
    },
  ];
}

/** Statement i ≥ 10 of a large set: one in 20 a State Street tag group, one in 20 a team's project prefix,
 * one in 50 a Deny on a retired project, the rest other actions (a third of them other ssm: actions). */
function generated(i: number): Statement {
  if (i % 20 === 0) return abacStatement(i / 20 + 1);
  if (i % 20 === 10)
    return {
      Effect: 'Allow',
      Action: 'ssm:StartSession',
      Resource: INSTANCES,
      Condition: { StringLike: { 'ssm:resourceTag/project': [`Team${i}`, `Team${i}-*`] } },
    };
  if (i % 50 === 25)
    return {
      Effect: 'Deny',
      Action: ['ssm:StartSession', 'ssm:SendCommand'],
      Resource: INSTANCES,
      Condition: { StringEquals: { 'ssm:resourceTag/project': `Retired${i}` } },
    };
  const service = SERVICES[i % SERVICES.length] as string;
  const verb = VERBS[i % VERBS.length] as string;
  const statement: Statement = {
    Effect: 'Allow',
    Action: [`${service}:${verb}Thing${i}*`, `${service}:List${i}`],
    Resource: `arn:aws:${service}:*:*:thing/${i}/*`,
  };
  if (i % 3 === 0) statement.Condition = { StringEquals: { 'aws:ResourceTag/owner': '${aws:username}' } };
  else if (i % 3 === 1)
    statement.Condition = { StringLike: { 'aws:ResourceTag/team': '${aws:PrincipalTag/Team}*' } };
  return statement;
}

export function statementsOf(count: number): Statement[] {
  const statements = core().slice(0, count);
  for (let i = statements.length; i < count; i++) statements.push(generated(i));
  return statements;
}

/** Parsed and compiled once, split into documents of 250 statements as a permission set's policies. */
export function compiledSet(statements: readonly Statement[]): CompiledPolicySet {
  const policies = [];
  for (let start = 0; start < statements.length; start += STATEMENTS_PER_POLICY) {
    const text = JSON.stringify({
      Version: '2012-10-17',
      Statement: statements.slice(start, start + STATEMENTS_PER_POLICY),
    });
    const parsed = parsePolicy(text);
    if (!parsed.ok)
      throw new Error(`bench policy does not parse: ${JSON.stringify(parsed.errors.slice(0, 3))}`);
    policies.push({ id: `bench-${start / STATEMENTS_PER_POLICY}`, policy: parsed.policy });
  }
  return compilePolicies(policies);
}

/** Tags of an instance in State Street's tag group g. */
export const groupTags = (g: number): Tags => ({
  APP_GROUP_NAME: `grp-${g}`,
  RELEASE_ID: `${g % 7}.${g % 3}`,
  APP_ID: `APP-${g}`,
});

/** The principal: holds State Street tag groups 1 and 3 (the statement for group 3 is number 41). */
export const PRINCIPAL = {
  username: 'alice',
  userId: 'AIDAALICE',
  tags: {
    AppGroupName: 'grp-1',
    ReleaseId: groupTags(1).RELEASE_ID as string,
    AppId: 'APP-1',
    AppGroupName3: 'grp-3',
    ReleaseId3: groupTags(3).RELEASE_ID as string,
    AppId3: 'APP-3',
    Team: 'payments',
  },
  sourceIp: '10.1.2.3',
};

export type BenchRequest = { action: string; resource: string; tags: Tags };

const hex = (n: number) => n.toString(16).padStart(17, '0');
const instance = (n: number) =>
  n % 5 === 4
    ? `arn:aws:ssm:local:000000000000:managed-instance/mi-${hex(n)}`
    : `arn:aws:ec2:local:000000000000:instance/i-${hex(n)}`;

/** The instance tags a StartSession request carries, by case: allowed or denied for different reasons. */
function startTags(n: number): Tags {
  const name = { Name: `host-${n}` };
  switch (n % 8) {
    case 0: // allowed: the guide's project=Production
    case 1:
      return { ...name, project: 'Production', ...groupTags(40 + (n % 30)) };
    case 2: // allowed: State Street tag group 1
      return { ...name, project: 'Development', ...groupTags(1) };
    case 3: // allowed: tag group 3 (from 41 statements on), else implicit deny
      return { ...name, project: 'Development', ...groupTags(3) };
    case 4: // allowed: a team's project prefix (from 11 statements on)
      return { ...name, project: `Team${10 + 20 * (n % 40)}-api`, ...groupTags(9) };
    case 5: // explicit deny: restricted, although project=Production allows
      return { ...name, project: 'Production', Classification: 'restricted', ...groupTags(1) };
    case 6: // explicit deny: a retired project (from 26 statements on), else implicit deny
      return { ...name, project: `Retired${25 + 50 * (n % 20)}`, ...groupTags(2) };
    default: // implicit deny: group 2 with the wrong release
      return { ...name, project: 'Development', ...groupTags(2), RELEASE_ID: 'old' };
  }
}

/** `count` requests, mostly StartSession, plus the other actions a console and CLI ask about. */
export function requestsOf(count: number): BenchRequest[] {
  const requests: BenchRequest[] = [];
  for (let n = 0; n < count; n++) {
    const kind = n % 20;
    if (kind < 12) requests.push({ action: 'ssm:StartSession', resource: instance(n), tags: startTags(n) });
    else if (kind === 12)
      requests.push({
        action: 'ssm:TerminateSession',
        resource: `arn:aws:ssm:local:000000000000:session/alice-${hex(n)}`,
        tags: {},
      });
    else if (kind === 13)
      requests.push({
        action: 'ssm:TerminateSession',
        resource: `arn:aws:ssm:local:000000000000:session/bob-${hex(n)}`,
        tags: {},
      });
    else if (kind === 14)
      requests.push({ action: 'ssm:DescribeInstanceProperties', resource: '*', tags: {} });
    else if (kind === 15) requests.push({ action: 'ssm:UpdateServiceSetting', resource: '*', tags: {} });
    else if (kind === 16)
      requests.push({ action: 's3:GetObject', resource: `arn:aws:s3:::home-alice/notes-${n}.txt`, tags: {} });
    else if (kind === 17) {
      // Statement i = 24m names ec2:DescribeThing<i>* on thing/<i>/* for the resource's owner.
      const m = 1 + (Math.floor(n / 20) % 40);
      const i = 24 * (m % 5 === 0 ? m + 1 : m);
      requests.push({
        action: `ec2:DescribeThing${i}Details`,
        resource: `arn:aws:ec2:local:000000000000:thing/${i}/x`,
        tags: { owner: 'alice' },
      });
    } else if (kind === 18)
      requests.push({ action: 'ssm:SendCommand', resource: instance(n), tags: startTags(n) });
    else
      requests.push({
        action: 'iam:CreateUser',
        resource: 'arn:aws:iam::000000000000:user/mallory',
        tags: {},
      });
  }
  return requests;
}

const AUTHENTICATED_AT = new Date(Date.now() - 600_000);

/** The principal half as the server builds it for each decision (time, MFA, source address). */
export function principal(now = new Date()): RequestContext {
  return principalContext({ ...PRINCIPAL, mfaAuthenticatedAt: AUTHENTICATED_AT, now });
}

/** The target half as the server builds it: the tags, and the session document for StartSession. */
export function target(request: BenchRequest): RequestContext {
  return resourceContext(
    request.tags,
    request.action === 'ssm:StartSession' ? { sessionDocumentName: 'SSM-SessionManagerRunShell' } : {},
  );
}
