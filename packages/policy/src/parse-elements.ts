import { isSuppliedKey } from './context-keys.ts';
import { POLICY_LIMITS } from './policy-types.ts';
import { childPath, describeType, quote, type Report } from './problems.ts';
import { parseTemplate, type TemplatePart } from './template.ts';

/**
 * Reads a string-or-array element (Action, NotAction, Resource, NotResource) into a list, reporting type
 * errors at each entry's path. Returns undefined when the element is unusable.
 */
export function readStringList(
  value: unknown,
  path: string,
  name: string,
  report: Report,
): string[] | undefined {
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value)) {
    report.error(path, `${name} must be a string or an array of strings, not ${describeType(value)}`);
    return undefined;
  }
  if (value.length === 0) {
    report.error(path, `${name} is an empty list: list at least one entry, or use "*"`);
    return undefined;
  }
  if (value.length > POLICY_LIMITS.maxListEntries) {
    report.error(path, `${name} has ${value.length} entries; the limit is ${POLICY_LIMITS.maxListEntries}`);
    return undefined;
  }
  const out: string[] = [];
  value.forEach((entry, i) => {
    if (typeof entry === 'string') out.push(entry);
    else report.error(childPath(path, i), `each ${name} entry must be a string, not ${describeType(entry)}`);
  });
  return out.length === value.length ? out : undefined;
}

/** Path of entry `i` of an element that may have been a single string. */
export function entryPath(path: string, wasArray: boolean, i: number): string {
  return wasArray ? childPath(path, i) : path;
}

const SERVICE = /^[A-Za-z0-9-]+$/;
const ACTION_NAME = /^[A-Za-z0-9*?]+$/;

/** `*` or `service:ActionName` where the name may hold * and ?; no variables, no spaces. */
export function checkAction(action: string, path: string, report: Report): void {
  if (action === '*') return;
  if (action.length > POLICY_LIMITS.maxStringChars) {
    report.error(path, `action is longer than ${POLICY_LIMITS.maxStringChars} characters`);
    return;
  }
  if (action.trim() !== action) {
    report.error(path, `action ${quote(action)} has surrounding spaces; remove them`);
    return;
  }
  if (action.includes('${')) {
    report.error(path, 'policy variables cannot be used in Action or NotAction');
    return;
  }
  const colon = action.indexOf(':');
  if (colon < 0) {
    report.error(
      path,
      `${quote(action)} is not an action: write service:Action, e.g. "ssm:StartSession", or "*"`,
    );
    return;
  }
  const service = action.slice(0, colon);
  const name = action.slice(colon + 1);
  if (!SERVICE.test(service)) {
    const wild = /[*?]/.test(service);
    report.error(
      path,
      wild
        ? `the service prefix of ${quote(action)} cannot contain wildcards; list each service, e.g. "ssm:*"`
        : `${quote(action)} has an invalid service prefix: it is letters, digits and "-" (e.g. "ssm")`,
    );
    return;
  }
  if (!ACTION_NAME.test(name)) {
    report.error(path, `${quote(action)}: an action name is letters and digits, with * and ? as wildcards`);
  }
}

/**
 * `*` or an ARN `arn:partition:service:region:account:resource` (region and account may be empty; * and ?
 * allowed except in the service; policy variables allowed with Version 2012-10-17).
 */
export function checkResource(resource: string, path: string, variables: boolean, report: Report): void {
  if (resource === '*') return;
  if (resource.length > POLICY_LIMITS.maxStringChars) {
    report.error(path, `resource is longer than ${POLICY_LIMITS.maxStringChars} characters`);
    return;
  }
  if (resource.trim() !== resource) {
    report.error(
      path,
      `resource ${quote(resource)} has surrounding spaces; remove them (they would be part of the ARN)`,
    );
    return;
  }
  const parts = resource.split(':');
  if (parts[0] !== 'arn' || parts.length < 6) {
    const hint = resource.trim().startsWith('arn:')
      ? `it has ${parts.length} colon-separated parts`
      : 'write "*" or an ARN';
    report.error(
      path,
      `malformed ARN ${quote(resource)}: a resource is arn:partition:service:region:account:resource (region and account may be empty); ${hint}`,
    );
    return;
  }
  const [, partition, service] = parts as [string, string, string];
  const resourcePart = parts.slice(5).join(':');
  if (!partition) report.error(path, `ARN ${quote(resource)} has an empty partition; write "aws" or "*"`);
  if (!service) report.error(path, `ARN ${quote(resource)} has an empty service; write e.g. "ec2" or "ssm"`);
  else if (/[*?]|\$\{/.test(service)) {
    report.error(path, `ARN ${quote(resource)}: the service part cannot contain wildcards or variables`);
  }
  if (!resourcePart)
    report.error(path, `ARN ${quote(resource)} has an empty resource part; write e.g. "instance/*"`);
  checkTemplate(resource, path, { variables, wildcards: true }, report);
}

/** Reports malformed variables and warns about variables naming keys Sesame never supplies. */
export function checkTemplate(
  text: string,
  path: string,
  options: { variables: boolean; wildcards: boolean },
  report: Report,
): TemplatePart[] | undefined {
  const parts = parseTemplate(text, options);
  if ('error' in parts) {
    report.error(path, parts.error);
    return undefined;
  }
  for (const part of parts) {
    if (part.kind === 'var' && !isSuppliedKey(part.name) && part.fallback === undefined) {
      report.warn(
        path,
        `Sesame never supplies ${quote(part.name)}, so \${${part.name}} never resolves and this never matches`,
      );
    }
  }
  if (!options.variables && text.includes('${')) {
    report.warn(path, `"\${…}" is literal text here because policy variables need "Version": "2012-10-17"`);
  }
  return parts;
}
