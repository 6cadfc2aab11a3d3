import { isResourceKey, normalizeContextKey } from './context-key.ts';

/** A condition-key value: booleans, numbers and dates are strings, as in AWS ("true", "1700000000", ISO 8601). */
export type ContextValue = string | readonly string[];
/** Condition key → value, keys in any case (`aws:PrincipalTag/AppId`, `ssm:resourceTag/project`, …). */
export type ContextInput = Readonly<Record<string, ContextValue | undefined>>;

/**
 * The request context with keys normalised once (lower case, `ssm:resourceTag/` folded into
 * `aws:ResourceTag/`) and values checked (a bad value throws, so evaluate() denies). Layers share
 * their parents, so a user's context built once can be extended per instance with that instance's tags
 * without copying: `user.extend(instanceTags)`.
 */
export class RequestContext {
  #values: Map<string, ContextValue>;
  #parent: RequestContext | undefined;
  #resourceOnly: boolean;

  private constructor(values: Map<string, ContextValue>, parent: RequestContext | undefined) {
    this.#values = values;
    this.#parent = parent;
    let resourceOnly = true;
    for (const key of values.keys()) if (!isResourceKey(key)) resourceOnly = false;
    this.#resourceOnly = resourceOnly;
  }

  /** True when this layer holds only target keys (tags, session document); its parents are not considered. */
  get resourceOnly(): boolean {
    return this.#resourceOnly;
  }

  /** The context this layer extends, if any. */
  get parent(): RequestContext | undefined {
    return this.#parent;
  }

  /** A context from plain key/value pairs. Throws TypeError on a value that is not a string or string array. */
  static from(input: ContextInput | RequestContext, parent?: RequestContext): RequestContext {
    if (input instanceof RequestContext) return parent ? input.#over(parent) : input;
    return new RequestContext(normalize(input), parent);
  }

  /** A view where `input`'s keys win over this context's keys (this context is not changed). */
  extend(input: ContextInput | RequestContext): RequestContext {
    return RequestContext.from(input, this);
  }

  /** The value of a normalised key (see normalizeContextKey), or undefined. */
  get(normalizedKey: string): ContextValue | undefined {
    let layer: RequestContext | undefined = this;
    do {
      const value = layer.#values.get(normalizedKey);
      if (value !== undefined) return value;
      layer = layer.#parent;
    } while (layer);
    return undefined;
  }

  /** Every key and value, parents first, in normalised form: for logs and the simulator. */
  entries(): Map<string, ContextValue> {
    const all = this.#parent ? this.#parent.entries() : new Map<string, ContextValue>();
    for (const [key, value] of this.#values) all.set(key, value);
    return all;
  }

  /** Calls `visit` once for each visible key (the nearest layer's value wins). */
  forEachKey(visit: (key: string, value: ContextValue) => void): void {
    for (let layer: RequestContext | undefined = this; layer; layer = layer.#parent) {
      for (const [key, value] of layer.#values) {
        let shadowed = false;
        for (let above: RequestContext = this; above !== layer; above = above.#parent as RequestContext) {
          if (above.#values.has(key)) shadowed = true;
        }
        if (!shadowed) visit(key, value);
      }
    }
  }

  #over(parent: RequestContext): RequestContext {
    return new RequestContext(this.#values, this.#parent ? this.#parent.#over(parent) : parent);
  }
}

function normalize(input: ContextInput): Map<string, ContextValue> {
  const values = new Map<string, ContextValue>();
  if (typeof input !== 'object' || input === null)
    throw new TypeError('the request context must be an object');
  for (const rawKey of Object.keys(input)) {
    const value = input[rawKey];
    if (value === undefined) continue;
    if (!isContextValue(value)) {
      throw new TypeError(
        `context value for ${JSON.stringify(rawKey)} must be a string or an array of strings`,
      );
    }
    const key = normalizeContextKey(rawKey);
    const existing = values.get(key);
    if (existing !== undefined && !sameValue(existing, value)) {
      throw new TypeError(
        `context keys ${JSON.stringify(rawKey)} and another spelling of it have different values`,
      );
    }
    values.set(key, value);
  }
  return values;
}

function isContextValue(value: unknown): value is ContextValue {
  if (typeof value === 'string') return true;
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

function sameValue(a: ContextValue, b: ContextValue): boolean {
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  return a.length === b.length && a.every((item, i) => item === b[i]);
}

/** Normalises a request context once; see RequestContext. */
export function createContext(input: ContextInput | RequestContext, parent?: RequestContext): RequestContext {
  return RequestContext.from(input, parent);
}
