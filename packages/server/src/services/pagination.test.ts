import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SesameError } from '../errors.ts';
import { compareKeys, page, pageQuery } from './pagination.ts';

const token = (key: unknown) => Buffer.from(JSON.stringify(key)).toString('base64url');

describe('listing pages', () => {
  test('pages follow the key order, each from where the last ended, until no nextToken', () => {
    const items = ['d', 'b', 'e', 'a', 'c'].map((name) => ({ name }));
    const names: string[] = [];
    let query = pageQuery({ maxResults: '2' });
    for (let pages = 1; ; pages++) {
      const shown = page(items, query, (i) => [i.name]);
      names.push(...shown.items.map((i) => i.name));
      if (!shown.nextToken) {
        assert.equal(pages, 3);
        break;
      }
      query = pageQuery({ maxResults: '2', nextToken: shown.nextToken });
    }
    assert.deepEqual(names, ['a', 'b', 'c', 'd', 'e']);
  });

  test('a token names a position: an item removed or added before it shifts nothing after it', () => {
    const first = page([{ n: 'a' }, { n: 'b' }, { n: 'c' }], pageQuery({ maxResults: '2' }), (i) => [i.n]);
    const later = [{ n: 'a0' }, { n: 'c' }, { n: 'd' }];
    const next = page(later, pageQuery({ nextToken: first.nextToken }), (i) => [i.n]);
    assert.deepEqual(
      next.items.map((i) => i.n),
      ['c', 'd'],
    );
    assert.equal(next.nextToken, undefined);
  });

  test('keys compare part by part, numbers as numbers (newest first with a negated time)', () => {
    assert.ok(compareKeys([-20, 'b'], [-3, 'a']) < 0);
    assert.ok(compareKeys(['web', 'i-2'], ['web', 'i-10']) > 0, 'strings by code unit');
    assert.ok(compareKeys(['web'], ['web', 'i-1']) < 0);
    assert.equal(compareKeys(['a', 1], ['a', 1]), 0);
  });

  test('the page size is 1000 unless asked; a bad maxResults or nextToken is refused, naming it', () => {
    assert.equal(pageQuery({}).maxResults, 1000);
    assert.equal(pageQuery(undefined).after, undefined);
    for (const maxResults of ['0', '1001', '-1', '2.5', 'ten', '', '00000001'])
      assert.throws(
        () => pageQuery({ maxResults }),
        (e: unknown) => e instanceof SesameError && e.code === 'INVALID' && /maxResults/.test(e.message),
        maxResults,
      );
    for (const nextToken of [
      '',
      '!!!',
      token({ a: 1 }),
      token([]),
      token([{}]),
      token([1, 2, 3, 4, 5]),
      'x'.repeat(4097),
    ])
      assert.throws(
        () => pageQuery({ nextToken }),
        (e: unknown) => e instanceof SesameError && e.code === 'INVALID' && /nextToken/.test(e.message),
        nextToken,
      );
    assert.throws(() => pageQuery({ nextToken: ['a', 'b'] }), /nextToken/);
    assert.deepEqual(pageQuery({ nextToken: token(['web', 'i-1']) }).after, ['web', 'i-1']);
    // The longest key a listing hands out comes back: a 255-character name of control characters.
    const longest = ['\u0001'.repeat(255), 'mi-0123456789abcdef0'];
    const shown = page([{ k: longest }, { k: ['~'] }], pageQuery({ maxResults: '1' }), (i) => i.k);
    assert.deepEqual(pageQuery({ nextToken: shown.nextToken }).after, longest);
  });
});
