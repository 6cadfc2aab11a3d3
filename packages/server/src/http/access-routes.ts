import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AccessModel } from '../access/access-model.ts';
import type { DirectoryService } from '../access/directory-service.ts';
import type { PermissionService } from '../access/permission-service.ts';
import type { createSimulator } from '../access/simulator.ts';
import { listing, page, pageQuery } from '../services/pagination.ts';
import { body, me, param } from './request.ts';

export type AccessServices = {
  directory: DirectoryService;
  permissions: PermissionService;
  simulate: ReturnType<typeof createSimulator>;
  model: Pick<AccessModel, 'forUser'>;
};

/** Policies can be large (thousands of statements); everything else stays under the app's 64 KiB. */
const POLICY_BODY_LIMIT = 1024 * 1024;

/** Groups, memberships, user tags, policies, permission sets, assignments and the policy simulator. */
export function registerAccessRoutes(
  app: FastifyInstance,
  { directory, permissions, simulate }: AccessServices,
  authed: { preValidation: (request: FastifyRequest, reply: FastifyReply) => Promise<void> },
): void {
  const big = { ...authed, bodyLimit: POLICY_BODY_LIMIT };
  const done = { ok: true };

  app.get('/api/v1/groups', authed, async (r) =>
    listing(
      'groups',
      page(await directory.listGroups(me(r)), pageQuery(r.query), (g) => [g.name, g.id]),
    ),
  );
  app.post('/api/v1/groups', authed, async (r) => ({ group: await directory.createGroup(me(r), body(r)) }));
  app.delete('/api/v1/groups/:name', authed, async (r) => {
    await directory.deleteGroup(me(r), param(r, 'name'));
    return done;
  });
  app.post('/api/v1/groups/:name/members', authed, async (r) => {
    await directory.addMember(me(r), param(r, 'name'), body(r));
    return done;
  });
  app.delete('/api/v1/groups/:name/members/:username', authed, async (r) => {
    await directory.removeMember(me(r), param(r, 'name'), param(r, 'username'));
    return done;
  });
  app.get('/api/v1/users/:username/tags', authed, async (r) => ({
    tags: await directory.getUserTags(me(r), param(r, 'username')),
  }));
  app.put('/api/v1/users/:username/tags', authed, async (r) => ({
    tags: await directory.setUserTags(me(r), param(r, 'username'), r.body),
  }));
  app.patch('/api/v1/users/:username/tags', authed, async (r) => ({
    tags: await directory.changeUserTags(me(r), param(r, 'username'), r.body),
  }));

  app.get('/api/v1/policies', authed, async (r) =>
    listing(
      'policies',
      page(await permissions.listPolicies(me(r)), pageQuery(r.query), (p) => [p.name, p.id]),
    ),
  );
  app.post('/api/v1/policies', big, async (r) => permissions.createPolicy(me(r), body(r)));
  app.get('/api/v1/policies/:name', authed, async (r) => ({
    policy: await permissions.getPolicy(me(r), param(r, 'name')),
  }));
  app.put('/api/v1/policies/:name', big, async (r) =>
    permissions.updatePolicy(me(r), param(r, 'name'), body(r)),
  );
  app.delete('/api/v1/policies/:name', authed, async (r) => {
    await permissions.deletePolicy(me(r), param(r, 'name'));
    return done;
  });

  app.get('/api/v1/permission-sets', authed, async (r) =>
    listing(
      'permissionSets',
      page(await permissions.listPermissionSets(me(r)), pageQuery(r.query), (p) => [p.name, p.id]),
    ),
  );
  app.post('/api/v1/permission-sets', big, async (r) => permissions.createPermissionSet(me(r), body(r)));
  app.get('/api/v1/permission-sets/:name', authed, async (r) => ({
    permissionSet: await permissions.getPermissionSet(me(r), param(r, 'name')),
  }));
  app.put('/api/v1/permission-sets/:name', big, async (r) =>
    permissions.updatePermissionSet(me(r), param(r, 'name'), body(r)),
  );
  app.delete('/api/v1/permission-sets/:name', authed, async (r) => {
    await permissions.deletePermissionSet(me(r), param(r, 'name'));
    return done;
  });

  app.get('/api/v1/assignments', authed, async (r) =>
    listing(
      'assignments',
      page(await permissions.listAssignments(me(r)), pageQuery(r.query), (a) => [a.createdAt, a.id]),
    ),
  );
  app.post('/api/v1/assignments', authed, async (r) => ({
    assignment: await permissions.assign(me(r), body(r)),
  }));
  app.delete('/api/v1/assignments/:id', authed, async (r) => {
    await permissions.unassign(me(r), param(r, 'id'));
    return done;
  });

  app.post('/api/v1/policy/simulate', authed, async (r) => simulate(me(r), body(r)));
}
