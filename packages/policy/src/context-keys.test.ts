import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isSuppliedKey, principalContext, resourceContext } from './context-keys.ts';
import { createContext, RequestContext } from './request-context.ts';

describe('principalContext / resourceContext', () => {
  const now = new Date('2024-05-01T12:00:00.123Z');

  test('supplies the keys AWS would, as strings', () => {
    const context = principalContext({
      username: 'testuser01',
      userId: 'AIDA1',
      tags: { AppGroupName: 'webserver' },
      sourceIp: '203.0.113.7',
      mfaAuthenticatedAt: new Date('2024-05-01T11:59:00Z'),
      now,
    });
    assert.deepEqual(Object.fromEntries(context.entries()), {
      'aws:username': 'testuser01',
      'aws:userid': 'AIDA1',
      'aws:principaltype': 'User',
      'aws:currenttime': '2024-05-01T12:00:00Z',
      'aws:epochtime': '1714564800',
      'aws:multifactorauthpresent': 'true',
      'aws:multifactorauthage': '60',
      'aws:sourceip': '203.0.113.7',
      'aws:principaltag/appgroupname': 'webserver',
    });
  });

  test('without MFA: MultiFactorAuthPresent "false" and no MultiFactorAuthAge', () => {
    const context = principalContext({ username: 'u', userId: 'i', now });
    assert.equal(context.get('aws:multifactorauthpresent'), 'false');
    assert.equal(context.get('aws:multifactorauthage'), undefined);
    assert.equal(context.get('aws:sourceip'), undefined);
  });

  test('resource tags answer to aws:ResourceTag/ and ssm:resourceTag/ alike', () => {
    const context = resourceContext(
      { project: 'Production' },
      { sessionDocumentName: 'AWS-StartSSHSession' },
    );
    assert.equal(context.get('aws:resourcetag/project'), 'Production');
    assert.equal(context.get('sesame:sessiondocumentname'), 'AWS-StartSSHSession');
  });

  test('isSuppliedKey', () => {
    for (const key of [
      'aws:username',
      'AWS:UserName',
      'aws:PrincipalTag/x',
      'ssm:resourceTag/APP_ID',
      'aws:ResourceTag/a:b',
      'sesame:SessionDocumentName',
    ]) {
      assert.equal(isSuppliedKey(key), true, key);
    }
    for (const key of [
      'aws:RequestedRegion',
      'aws:PrincipalTag/',
      'ssm:SessionDocumentAccessCheck',
      'project',
    ]) {
      assert.equal(isSuppliedKey(key), false, key);
    }
  });
});

describe('RequestContext', () => {
  test('normalises keys once and layers without copying', () => {
    const base = createContext({ 'AWS:UserName': 'alice', 'ssm:resourceTag/Team': 'red' });
    assert.equal(base.get('aws:username'), 'alice');
    assert.equal(base.get('aws:resourcetag/team'), 'red');
    const layered = base.extend({ 'aws:username': 'bob' });
    assert.equal(layered.get('aws:username'), 'bob');
    assert.equal(layered.get('aws:resourcetag/team'), 'red');
    assert.equal(base.get('aws:username'), 'alice');
    assert.equal(RequestContext.from(base), base);
  });

  test('refuses values that are not strings or string lists, and conflicting spellings', () => {
    assert.throws(
      () => createContext({ 'aws:username': 1 as never }),
      /must be a string or an array of strings/,
    );
    assert.throws(() => createContext({ k: ['a', 2] as never }), /must be a string/);
    assert.throws(
      () => createContext({ 'ssm:resourceTag/a': 'x', 'aws:ResourceTag/a': 'y' }),
      /different values/,
    );
    assert.equal(
      createContext({ 'ssm:resourceTag/a': 'x', 'aws:ResourceTag/a': 'x' }).get('aws:resourcetag/a'),
      'x',
    );
  });
});
