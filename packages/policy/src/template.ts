import { normalizeContextKey } from './context-key.ts';

/**
 * A policy string split into parts: literal text, the wildcards `*` and `?` (where the element allows
 * them) and policy variables `${key}` / `${key, 'default'}`. `${*}`, `${?}` and `${$}` are the literal
 * characters. With variables off (policy version 2008-10-17) `${…}` is literal text, as in AWS.
 */
export type TemplatePart =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'star' }
  | { readonly kind: 'one' }
  | {
      readonly kind: 'var';
      readonly key: string;
      readonly name: string;
      readonly fallback: string | undefined;
    };

export type TemplateOptions = { readonly variables: boolean; readonly wildcards: boolean };

const ESCAPED: Readonly<Record<string, string>> = { '*': '*', '?': '?', $: '$' };
const VARIABLE_KEY = /^[A-Za-z0-9][A-Za-z0-9_.:/=+\-@ ]*$/;

export function parseTemplate(source: string, options: TemplateOptions): TemplatePart[] | { error: string } {
  const parts: TemplatePart[] = [];
  let text = '';
  const flush = () => {
    if (text) parts.push({ kind: 'text', text });
    text = '';
  };
  for (let i = 0; i < source.length; i++) {
    const c = source.charAt(i);
    if (options.wildcards && (c === '*' || c === '?')) {
      flush();
      // Runs of * are one *; they match the same strings.
      if (c === '*' && parts.at(-1)?.kind === 'star') continue;
      parts.push(c === '*' ? { kind: 'star' } : { kind: 'one' });
      continue;
    }
    if (!(options.variables && c === '$' && source.charAt(i + 1) === '{')) {
      text += c;
      continue;
    }
    const close = source.indexOf('}', i + 2);
    if (close < 0) {
      return {
        error: `policy variable at character ${i + 1} is never closed with "}" (write \${$} for a literal "$")`,
      };
    }
    const inner = source.slice(i + 2, close);
    i = close;
    // Own entries only: `${constructor}` must not find Object's.
    const escaped = Object.hasOwn(ESCAPED, inner) ? ESCAPED[inner] : undefined;
    if (escaped !== undefined) {
      text += escaped;
      continue;
    }
    const variable = parseVariable(inner);
    if ('error' in variable) return variable;
    flush();
    parts.push(variable);
  }
  flush();
  return parts;
}

function parseVariable(inner: string): TemplatePart | { error: string } {
  const comma = inner.indexOf(',');
  const name = (comma < 0 ? inner : inner.slice(0, comma)).trim();
  let fallback: string | undefined;
  if (comma >= 0) {
    const rest = inner.slice(comma + 1).trim();
    if (rest.length < 2 || !rest.startsWith("'") || !rest.endsWith("'") || rest.slice(1, -1).includes("'")) {
      return { error: `the default value of \${${name}} must be in single quotes, e.g. \${${name}, 'none'}` };
    }
    fallback = rest.slice(1, -1);
  }
  if (!name) return { error: `empty policy variable "\${}"` };
  if (!VARIABLE_KEY.test(name) || !name.includes(':')) {
    return {
      error: `\${${name}} is not a policy variable: variables name a condition key such as \${aws:username}`,
    };
  }
  return { kind: 'var', key: normalizeContextKey(name), name, fallback };
}

/** True when the parts contain a policy variable. */
export function hasVariables(parts: readonly TemplatePart[]): boolean {
  return parts.some((part) => part.kind === 'var');
}

/** True when the parts contain * or ?. */
export function hasWildcards(parts: readonly TemplatePart[]): boolean {
  return parts.some((part) => part.kind === 'star' || part.kind === 'one');
}
