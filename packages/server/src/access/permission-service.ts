import { randomUUID } from 'node:crypto';
import { type ArnSettings, serverArn } from '../arn.ts';
import type { Audit } from '../audit.ts';
import type { Principal } from '../authorize.ts';
import { hashToken } from '../crypto.ts';
import { SesameError } from '../errors.ts';
import type { Guard } from '../guard.ts';
import { checkUpdate, description, onlyFields, requiredText } from '../services/validate.ts';
import type { Assignment, ManagedPolicy, PermissionSet, PrincipalType, Store } from '../store/index.ts';
import { accessChanged } from './access-change.ts';
import type { AccessModel } from './access-model.ts';
import { checkName, checkPolicyDocument } from './policy-document.ts';

type Deps = {
  store: Pick<
    Store,
    | 'createPolicy'
    | 'getPolicyByName'
    | 'listPolicies'
    | 'updatePolicy'
    | 'deletePolicy'
    | 'createPermissionSet'
    | 'getPermissionSet'
    | 'getPermissionSetByName'
    | 'listPermissionSets'
    | 'updatePermissionSet'
    | 'deletePermissionSet'
    | 'createAssignment'
    | 'deleteAssignment'
    | 'listAssignments'
    | 'getUserByUsername'
    | 'getUserById'
    | 'getGroupByName'
    | 'listGroups'
    | 'listUsers'
  >;
  guard: Guard;
  audit: Audit;
  model: Pick<AccessModel, 'reload'>;
  arn: ArnSettings;
  now?: () => number;
};

const HOUR = 3_600_000;
/** As AWS permission sets: 1 to 12 hours, 1 hour by default. */
const SESSION_DURATION = { min: HOUR, max: 12 * HOUR, default: HOUR };

export type PermissionSetView = Omit<PermissionSet, 'policyIds'> & { policies: string[] };

const POLICY_FIELDS = ['name', 'document', 'description'] as const;
const SET_FIELDS = ['name', 'description', 'sessionDurationMs', 'inlinePolicy', 'policies'] as const;

function sessionDuration(value: unknown): number {
  if (value === undefined) return SESSION_DURATION.default;
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < SESSION_DURATION.min ||
    value > SESSION_DURATION.max
  ) {
    throw new SesameError(
      'INVALID',
      'sessionDurationMs must be a whole number of milliseconds from 1 hour (3600000) to 12 hours (43200000)',
    );
  }
  return value;
}

/** Named policies, permission sets (inline policy + named policies + session duration), and their assignments. */
export function createPermissionService({ store, guard, audit, model, arn, now = Date.now }: Deps) {
  const policyArn = (name: string) => serverArn(arn, 'policy', name);
  const setArn = (name: string) => serverArn(arn, 'permission-set', name);

  const changed = accessChanged({ model, audit });
  async function policyNamed(name: string): Promise<ManagedPolicy> {
    const found = await store.getPolicyByName(name);
    if (!found) throw new SesameError('NOT_FOUND', `no policy "${name}": run \`sesame admin policies list\``);
    return found;
  }
  async function setNamed(name: string): Promise<PermissionSet> {
    const found = await store.getPermissionSetByName(name);
    if (!found)
      throw new SesameError(
        'NOT_FOUND',
        `no permission set "${name}": run \`sesame admin permission-sets list\``,
      );
    return found;
  }
  async function policyIds(names: unknown): Promise<string[]> {
    if (names === undefined) return [];
    if (!Array.isArray(names) || names.length > 20 || !names.every((n) => typeof n === 'string'))
      throw new SesameError('INVALID', 'policies must be a list of at most 20 policy names');
    return Promise.all(names.map(async (n: string) => (await policyNamed(n)).id));
  }
  async function view(set: PermissionSet): Promise<PermissionSetView> {
    const all = await store.listPolicies();
    const { policyIds: ids, ...rest } = set;
    return { ...rest, policies: ids.map((id) => all.find((p) => p.id === id)?.name ?? id) };
  }
  /** The user's or group's name an assignment is for (its id if it is gone). */
  const holderName = async (a: Assignment): Promise<string> =>
    (a.principalType === 'user'
      ? (await store.getUserById(a.principalId))?.username
      : (await store.listGroups()).find((g) => g.id === a.principalId)?.name) ?? a.principalId;
  const inline = (value: unknown, name: string) =>
    value === undefined || value === null
      ? { document: null, warnings: [] }
      : checkPolicyDocument(value, `the inline policy of ${name}`);

  return {
    async createPolicy(principal: Principal, input: Record<string, unknown>) {
      const name = checkName(input.name, 'policy');
      guard(principal, 'sesame:CreatePolicy', policyArn(name));
      onlyFields(input, POLICY_FIELDS);
      const { document, warnings } = checkPolicyDocument(input.document, `policy ${name}`);
      const t = now();
      await store.createPolicy({
        id: randomUUID(),
        name,
        description: description(input.description) ?? '',
        document,
        createdAt: t,
        updatedAt: t,
      });
      await changed(principal, 'sesame:CreatePolicy', policyArn(name), documentDetail(document));
      return { policy: await policyNamed(name), warnings };
    },

    async updatePolicy(principal: Principal, name: string, input: Record<string, unknown>) {
      guard(principal, 'sesame:UpdatePolicy', policyArn(name));
      onlyFields(input, POLICY_FIELDS);
      checkUpdate(input, name, ['document', 'description']);
      const existing = await policyNamed(name);
      const checked =
        input.document === undefined ? undefined : checkPolicyDocument(input.document, `policy ${name}`);
      const text = description(input.description);
      await store.updatePolicy(existing.id, {
        ...(checked ? { document: checked.document } : {}),
        ...(text === undefined ? {} : { description: text }),
        updatedAt: now(),
      });
      await changed(principal, 'sesame:UpdatePolicy', policyArn(name), {
        ...(checked ? documentDetail(checked.document) : {}),
        ...(text === undefined ? {} : { description: text }),
      });
      return { policy: await policyNamed(name), warnings: checked?.warnings ?? [] };
    },

    async listPolicies(principal: Principal): Promise<ManagedPolicy[]> {
      guard(principal, 'sesame:ListPolicies', policyArn('*'));
      return store.listPolicies();
    },

    async getPolicy(principal: Principal, name: string): Promise<ManagedPolicy> {
      guard(principal, 'sesame:GetPolicy', policyArn(name));
      return policyNamed(name);
    },

    async deletePolicy(principal: Principal, name: string): Promise<void> {
      guard(principal, 'sesame:DeletePolicy', policyArn(name));
      const gone = await policyNamed(name);
      await store.deletePolicy(gone.id);
      await changed(principal, 'sesame:DeletePolicy', policyArn(name), documentDetail(gone.document));
    },

    async createPermissionSet(principal: Principal, input: Record<string, unknown>) {
      const name = checkName(input.name, 'permission set');
      guard(principal, 'sesame:CreatePermissionSet', setArn(name));
      onlyFields(input, SET_FIELDS);
      const { document, warnings } = inline(input.inlinePolicy, name);
      const t = now();
      await store.createPermissionSet({
        id: randomUUID(),
        name,
        description: description(input.description) ?? '',
        sessionDurationMs: sessionDuration(input.sessionDurationMs),
        inlinePolicy: document,
        policyIds: await policyIds(input.policies),
        createdAt: t,
        updatedAt: t,
      });
      const created = await view(await setNamed(name));
      await changed(principal, 'sesame:CreatePermissionSet', setArn(name), {
        policies: created.policies,
        sessionDurationMs: created.sessionDurationMs,
        ...documentDetail(document, 'inlinePolicy'),
      });
      return { permissionSet: created, warnings };
    },

    async updatePermissionSet(principal: Principal, name: string, input: Record<string, unknown>) {
      guard(principal, 'sesame:UpdatePermissionSet', setArn(name));
      onlyFields(input, SET_FIELDS);
      checkUpdate(input, name, SET_FIELDS.slice(1));
      const existing = await setNamed(name);
      const checked = input.inlinePolicy === undefined ? undefined : inline(input.inlinePolicy, name);
      const text = description(input.description);
      await store.updatePermissionSet(existing.id, {
        ...(text === undefined ? {} : { description: text }),
        ...(input.sessionDurationMs === undefined
          ? {}
          : { sessionDurationMs: sessionDuration(input.sessionDurationMs) }),
        ...(checked ? { inlinePolicy: checked.document } : {}),
        ...(input.policies === undefined ? {} : { policyIds: await policyIds(input.policies) }),
        updatedAt: now(),
      });
      // What this update set, as CloudTrail keeps a request's parameters: who had what access when.
      await changed(principal, 'sesame:UpdatePermissionSet', setArn(name), {
        ...(text === undefined ? {} : { description: text }),
        ...(input.sessionDurationMs === undefined
          ? {}
          : { sessionDurationMs: sessionDuration(input.sessionDurationMs) }),
        ...(input.policies === undefined ? {} : { policies: input.policies }),
        ...(checked ? documentDetail(checked.document, 'inlinePolicy') : {}),
      });
      return { permissionSet: await view(await setNamed(name)), warnings: checked?.warnings ?? [] };
    },

    async listPermissionSets(principal: Principal): Promise<PermissionSetView[]> {
      guard(principal, 'sesame:ListPermissionSets', setArn('*'));
      return Promise.all((await store.listPermissionSets()).map(view));
    },

    async getPermissionSet(principal: Principal, name: string): Promise<PermissionSetView> {
      guard(principal, 'sesame:GetPermissionSet', setArn(name));
      return view(await setNamed(name));
    },

    async deletePermissionSet(principal: Principal, name: string): Promise<void> {
      guard(principal, 'sesame:DeletePermissionSet', setArn(name));
      const gone = await view(await setNamed(name));
      // Its assignments go with it: who lost it is on the record too.
      const lost = (await store.listAssignments()).filter((a) => a.permissionSetId === gone.id);
      await store.deletePermissionSet(gone.id);
      await changed(principal, 'sesame:DeletePermissionSet', setArn(name), {
        policies: gone.policies,
        ...documentDetail(gone.inlinePolicy, 'inlinePolicy'),
        assignments: await Promise.all(lost.map(async (a) => `${a.principalType}/${await holderName(a)}`)),
      });
    },

    /** Assigns a permission set to a user or a group (by name). */
    async assign(principal: Principal, input: Record<string, unknown>): Promise<Assignment> {
      const setName = typeof input.permissionSet === 'string' ? input.permissionSet : '';
      guard(principal, 'sesame:CreateAssignment', setArn(setName || '*'));
      onlyFields(input, ['permissionSet', 'principalType', 'principalName']);
      requiredText(input, 'permissionSet', 'the name of the permission set to assign');
      const principalType = input.principalType as PrincipalType;
      if (principalType !== 'user' && principalType !== 'group')
        throw new SesameError('INVALID', 'principalType must be "user" or "group"');
      const principalName = requiredText(input, 'principalName', `the name of the ${principalType}`);
      const set = await setNamed(setName);
      const target =
        principalType === 'user'
          ? await store.getUserByUsername(principalName)
          : await store.getGroupByName(principalName);
      if (!target) throw new SesameError('NOT_FOUND', `no ${principalType} "${principalName}"`);
      const assignment: Assignment = {
        id: randomUUID(),
        permissionSetId: set.id,
        principalType,
        principalId: target.id,
        createdAt: now(),
      };
      await store.createAssignment(assignment);
      await changed(principal, 'sesame:CreateAssignment', setArn(setName), { principalType, principalName });
      return assignment;
    },

    /**
     * Judged on the assignment's own permission set (a Deny on permission-set/AdministratorAccess holds); an
     * unknown id is judged on `permission-set/*`, so a caller who may not delete learns nothing of which exist.
     */
    async unassign(principal: Principal, id: string): Promise<void> {
      const [assignment] = await store.listAssignments({ id });
      const set = assignment && (await store.getPermissionSet(assignment.permissionSetId));
      const resource = setArn(set?.name ?? '*');
      guard(principal, 'sesame:DeleteAssignment', resource);
      if (!assignment || !(await store.deleteAssignment(id)))
        throw new SesameError('NOT_FOUND', `no assignment ${id}: run \`sesame admin assignments list\``);
      await changed(principal, 'sesame:DeleteAssignment', resource, {
        assignmentId: id,
        principalType: assignment.principalType,
        principalName: await holderName(assignment),
      });
    },

    /** Assignments with the names of their permission set and user or group. */
    async listAssignments(
      principal: Principal,
    ): Promise<(Assignment & { permissionSet: string; principalName: string })[]> {
      guard(principal, 'sesame:ListAssignments', setArn('*'));
      const [assignments, sets, groups, users] = await Promise.all([
        store.listAssignments(),
        store.listPermissionSets(),
        store.listGroups(),
        store.listUsers(),
      ]);
      const names = new Map<string, string>([
        ...groups.map((g) => [g.id, g.name] as const),
        ...users.map((u) => [u.id, u.username] as const),
      ]);
      return assignments.map((a) => ({
        ...a,
        permissionSet: sets.find((s) => s.id === a.permissionSetId)?.name ?? a.permissionSetId,
        principalName: names.get(a.principalId) ?? a.principalId,
      }));
    },
  };
}

export type PermissionService = ReturnType<typeof createPermissionService>;

/** Documents up to this size go into the audit event whole; larger ones by their SHA-256 and size. */
const AUDITED_DOCUMENT_CHARS = 32 * 1024;

/** A policy document as an audit event keeps it: the text whole (small enough) and always its SHA-256. */
function documentDetail(document: string | null, field = 'document'): Record<string, unknown> {
  if (document === null) return { [field]: null };
  const sha256 = hashToken(document);
  return document.length <= AUDITED_DOCUMENT_CHARS
    ? { [field]: document, [`${field}Sha256`]: sha256 }
    : { [`${field}Sha256`]: sha256, [`${field}Chars`]: document.length };
}
