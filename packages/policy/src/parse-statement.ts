import { parseConditionBlock } from './parse-condition.ts';
import { checkAction, checkResource, entryPath, readStringList } from './parse-elements.ts';
import type { PolicyCondition, PolicyStatement } from './policy-types.ts';
import { caseHint, childPath, describeType, isObject, quote, type Report } from './problems.ts';

const STATEMENT_KEYS = [
  'Sid',
  'Effect',
  'Action',
  'NotAction',
  'Resource',
  'NotResource',
  'Condition',
] as const;
const SID = /^[A-Za-z0-9]*$/;

/** Validates one statement; returns it normalised, or undefined when it has errors (all reported). */
export function parseStatement(
  raw: unknown,
  path: string,
  index: number,
  variables: boolean,
  report: Report,
): PolicyStatement | undefined {
  if (!isObject(raw)) {
    report.error(
      path,
      `a statement must be an object with Effect, Action and Resource, not ${describeType(raw)}`,
    );
    return undefined;
  }
  const errorsBefore = report.errors.length;
  for (const key of Object.keys(raw)) {
    if ((STATEMENT_KEYS as readonly string[]).includes(key)) continue;
    const keyPath = childPath(path, key);
    if (key === 'Principal' || key === 'NotPrincipal') {
      report.error(
        keyPath,
        `${key} belongs in resource-based policies; an identity policy applies to whoever it is attached to, so remove ${key}`,
      );
    } else {
      report.error(
        keyPath,
        `unknown statement key ${quote(key)}${caseHint(key, STATEMENT_KEYS)}; a statement has ${STATEMENT_KEYS.join(', ')}`,
      );
    }
  }

  let sid: string | undefined;
  if (raw.Sid !== undefined) {
    if (typeof raw.Sid !== 'string')
      report.error(childPath(path, 'Sid'), `Sid must be a string, not ${describeType(raw.Sid)}`);
    else if (!SID.test(raw.Sid))
      report.error(childPath(path, 'Sid'), `Sid ${quote(raw.Sid)} may contain only letters and digits`);
    else sid = raw.Sid;
  }

  const effect = raw.Effect;
  if (effect === undefined) report.error(path, 'missing Effect: add "Effect": "Allow" or "Effect": "Deny"');
  else if (effect !== 'Allow' && effect !== 'Deny') {
    const fixed =
      typeof effect === 'string'
        ? ['Allow', 'Deny'].find((e) => e.toLowerCase() === effect.trim().toLowerCase())
        : undefined;
    report.error(
      childPath(path, 'Effect'),
      fixed
        ? `Effect must be exactly ${JSON.stringify(fixed)}${String(effect).trim() === String(effect) ? ' (it is case-sensitive)' : ' (no spaces around it)'}`
        : `Effect must be "Allow" or "Deny", not ${quote(effect)}`,
    );
  }

  const actions = pickOne(raw, path, 'Action', 'NotAction', report);
  const resources = pickOne(raw, path, 'Resource', 'NotResource', report);
  if (actions) {
    const actionPath = childPath(path, actions.name);
    actions.list.forEach((action, i) => {
      checkAction(action, entryPath(actionPath, actions.wasArray, i), report);
    });
  }
  if (resources) {
    const resourcePath = childPath(path, resources.name);
    resources.list.forEach((resource, i) => {
      checkResource(resource, entryPath(resourcePath, resources.wasArray, i), variables, report);
    });
  }

  let conditions: PolicyCondition[] | undefined = [];
  if (raw.Condition !== undefined)
    conditions = parseConditionBlock(raw.Condition, childPath(path, 'Condition'), variables, report, effect);

  if (report.errors.length !== errorsBefore || !actions || !resources || !conditions) return undefined;
  if (effect === 'Allow' && actions.name === 'NotAction') {
    report.warn(
      childPath(path, 'NotAction'),
      'Allow with NotAction allows every other action, including actions added later',
    );
  }
  if (effect === 'Allow' && resources.name === 'NotResource') {
    report.warn(
      childPath(path, 'NotResource'),
      'Allow with NotResource allows every other resource, including ones added later',
    );
  }
  return {
    index,
    path,
    ...(sid !== undefined ? { sid } : {}),
    effect: effect as 'Allow' | 'Deny',
    ...(actions.name === 'Action' ? { action: actions.list } : { notAction: actions.list }),
    ...(resources.name === 'Resource' ? { resource: resources.list } : { notResource: resources.list }),
    conditions,
  };
}

type Picked<N extends string> = { name: N; list: string[]; wasArray: boolean };

/** Exactly one of `a` / `b` must be present (identity policies need both an action and a resource element). */
function pickOne<A extends string, B extends string>(
  raw: Record<string, unknown>,
  path: string,
  a: A,
  b: B,
  report: Report,
): Picked<A> | Picked<B> | undefined {
  const hasA = raw[a] !== undefined;
  const hasB = raw[b] !== undefined;
  if (hasA && hasB) {
    report.error(path, `a statement has either ${a} or ${b}, not both`);
    return undefined;
  }
  if (!hasA && !hasB) {
    report.error(path, `missing ${a}: an identity policy statement needs ${a} (or ${b})`);
    return undefined;
  }
  const name = hasA ? a : b;
  const value = raw[name];
  const list = readStringList(value, childPath(path, name), name, report);
  return list ? ({ name, list, wasArray: Array.isArray(value) } as Picked<A> | Picked<B>) : undefined;
}
