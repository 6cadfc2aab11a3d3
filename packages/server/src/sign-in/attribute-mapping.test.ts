import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AWS_SAML, DEFAULT_MAPPING, mapIdentity } from './attribute-mapping.ts';

describe('mapIdentity', () => {
  test('State Street: numbered PrincipalTag attributes become tags, RoleSessionName the user name', () => {
    const claims = {
      [`${AWS_SAML}RoleSessionName`]: ['Bob.Smith@statestreet.example'],
      [`${AWS_SAML}PrincipalTag:AppGroupName`]: ['webserver'],
      [`${AWS_SAML}PrincipalTag:AppId`]: ['ABC'],
      [`${AWS_SAML}PrincipalTag:ReleaseId`]: ['1.0'],
      [`${AWS_SAML}PrincipalTag:AppGroupName2`]: ['database'],
      [`${AWS_SAML}Role`]: ['arn:aws:iam::1:role/PAM,arn:aws:iam::1:saml-provider/Corp', 'second'],
      [`${AWS_SAML}SessionDuration`]: ['3600'],
      groups: ['pam-users', 'pam-users', 'dba'],
      email: ['bob@statestreet.example'],
    };
    assert.deepEqual(mapIdentity(claims, DEFAULT_MAPPING.saml, 'nameid'), {
      username: 'bob.smith',
      email: 'bob@statestreet.example',
      groups: ['pam-users', 'dba'],
      tags: { AppGroupName: 'webserver', AppId: 'ABC', ReleaseId: '1.0', AppGroupName2: 'database' },
      maxDurationMs: 3_600_000,
    });
  });

  test('OIDC: explicit tag mapping from custom claims; the fallback name is used when the claim is missing', () => {
    const mapping = { ...DEFAULT_MAPPING.oidc, tags: { AppGroupName: 'app_group', Team: 'team' } };
    const mapped = mapIdentity(
      { sub: 'x', app_group: 'webserver', team: 7, groups: 'ops' },
      mapping,
      'fallback-1',
    );
    assert.equal(mapped.username, 'fallback-1');
    assert.deepEqual(mapped.tags, { AppGroupName: 'webserver', Team: '7' });
    assert.deepEqual(mapped.groups, ['ops']);
    assert.equal(mapped.maxDurationMs, undefined);
  });

  test('a user name that cannot be a Sesame name is refused with the attribute named', () => {
    assert.throws(() => mapIdentity({ preferred_username: 'Bob Smith' }, DEFAULT_MAPPING.oidc, 'x'), {
      code: 'FORBIDDEN',
      message: /preferred_username/,
    });
  });

  test('a tag value with characters tags cannot hold is refused, not silently dropped', () => {
    const claims = { [`${AWS_SAML}PrincipalTag:AppId`]: ['<script>'], [`${AWS_SAML}RoleSessionName`]: 'bob' };
    assert.throws(() => mapIdentity(claims, DEFAULT_MAPPING.saml, 'bob'), {
      code: 'INVALID',
      message: /AppId/,
    });
  });

  test('a tag attribute with several values is refused with the attribute named, not cut to its first', () => {
    const name = `${AWS_SAML}PrincipalTag:AppGroupName`;
    const claims = { [name]: ['payments', 'ledger'], [`${AWS_SAML}RoleSessionName`]: 'bob' };
    assert.throws(() => mapIdentity(claims, DEFAULT_MAPPING.saml, 'bob'), {
      code: 'FORBIDDEN',
      message: new RegExp(`sent 2 values for "${name}"`),
    });
    const oidc = { ...DEFAULT_MAPPING.oidc, tags: { Team: 'team' } };
    assert.throws(() => mapIdentity({ preferred_username: 'bob', team: ['a', 'b'] }, oidc, 'bob'), {
      code: 'FORBIDDEN',
      message: /"team"/,
    });
    // One value in a list is one value.
    assert.deepEqual(mapIdentity({ ...claims, [name]: ['payments'] }, DEFAULT_MAPPING.saml, 'bob').tags, {
      AppGroupName: 'payments',
    });
  });

  test('an email the IdP sends is kept only if mail can go to it, by the same rule as for an administrator', () => {
    const email = (value: string) =>
      mapIdentity({ preferred_username: 'eve', email: value }, DEFAULT_MAPPING.oidc, 'e').email;
    assert.equal(email('eve@corp.example'), 'eve@corp.example');
    for (const bad of ['a,b@corp.example', 'eve@corp', 'eve <x@y.example>', 'eve@corp.example;x@y.example'])
      assert.equal(email(bad), null, bad);
  });

  test('prototype-named claims are plain data', () => {
    const claims = JSON.parse('{"__proto__": {"x": 1}, "preferred_username": "eve"}');
    assert.equal(mapIdentity(claims, { ...DEFAULT_MAPPING.oidc, groups: '__proto__' }, 'e').username, 'eve');
  });
});
