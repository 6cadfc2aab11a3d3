import {
  type CompiledStatement,
  compileStatement,
  type Guard,
  type StatementSummary,
} from './compile-statement.ts';
import { MATCH, type Pattern } from './pattern.ts';
import type { Policy } from './policy-types.ts';

/** The statements whose Action/NotAction covers one action, split by effect, in policy order. */
export type Candidates = {
  readonly denies: readonly CompiledStatement[];
  readonly allows: readonly CompiledStatement[];
  readonly summaries: readonly StatementSummary[];
  /** Added to implicit-deny reasons (evaluatorFor says how many statements it set aside). */
  readonly note?: string;
  /** With many guarded statements: look them up by the request's keys instead of scanning them all. */
  readonly index?: GuardIndex;
};

/** Statements without a guard, and the guarded ones by guard key (see CompiledStatement.guard). */
export type GuardIndex = {
  readonly unguarded: readonly CompiledStatement[];
  readonly byGuard: ReadonlyMap<string, GuardEntry>;
};

/** Statements guarded by one key: those needing any value, and those needing one of some values. */
export type GuardEntry = {
  readonly anyValue: CompiledStatement[];
  readonly byValue: Map<string, CompiledStatement[]>;
  readonly byPrefix: Map<string, CompiledStatement[]>;
  readonly bySuffix: Map<string, CompiledStatement[]>;
  /** Distinct prefix / suffix lengths, ascending: a value is looked up by its prefixes and suffixes of these lengths. */
  readonly prefixLengths: number[];
  readonly suffixLengths: number[];
};

/** Below this many guarded statements a scan with per-statement guard checks is as fast as the index. */
const INDEX_THRESHOLD = 24;

export type CompileOptions = {
  /** Called when an evaluation fails (the decision is then Deny); wire it to the server's logger. */
  onError?: (error: unknown, request: { action: unknown; resource: unknown }) => void;
  /** Guarded statements an action needs before they are indexed by guard key (tuning; default 24). */
  indexThreshold?: number;
};

const MAX_CACHED_ACTIONS = 1024;

/**
 * Policies compiled once for fast evaluation: patterns become matchers, statements are indexed by the
 * service prefix of their actions, and the statements that apply to each action are computed on first
 * use and cached. Immutable once built; build a new set when policies change (there is no half-applied state).
 */
export class CompiledPolicySet {
  readonly policyIds: readonly string[];
  readonly statementCount: number;
  readonly onError: CompileOptions['onError'];
  #statements: readonly CompiledStatement[];
  #byService = new Map<string, number[]>();
  #anyService: number[] = [];
  #cache = new Map<string, Candidates>();
  #indexThreshold: number;

  constructor(policies: readonly { id: string; policy: Policy }[], options: CompileOptions = {}) {
    const statements: CompiledStatement[] = [];
    const patterns = new Map<string, Pattern>();
    for (const { id, policy } of policies) {
      const variables = policy.version === '2012-10-17';
      for (const statement of policy.statements)
        statements.push(compileStatement(id, statement, variables, patterns));
    }
    statements.forEach((statement, i) => {
      statement.order = i;
      if (!statement.services) {
        this.#anyService.push(i);
        return;
      }
      for (const service of statement.services) {
        const list = this.#byService.get(service);
        if (list) list.push(i);
        else this.#byService.set(service, [i]);
      }
    });
    this.#statements = statements;
    this.policyIds = Object.freeze(policies.map((p) => p.id));
    this.statementCount = statements.length;
    this.onError = options.onError;
    this.#indexThreshold = options.indexThreshold ?? INDEX_THRESHOLD;
  }

  /**
   * The statements whose Action/NotAction covers `action` (case-insensitive). Cached per action.
   * Internal to the package (evaluate, evaluatorFor); use statementsFor() from outside.
   */
  candidates(action: string): Candidates {
    const cached = this.#cache.get(action);
    if (cached) return cached;
    const lower = action.toLowerCase();
    const colon = lower.indexOf(':');
    const byService = colon < 0 ? undefined : this.#byService.get(lower.slice(0, colon));
    const indices = mergeSorted(byService ?? [], this.#anyService);
    const denies: CompiledStatement[] = [];
    const allows: CompiledStatement[] = [];
    const summaries: StatementSummary[] = [];
    for (const i of indices) {
      const statement = this.#statements[i] as CompiledStatement;
      if (!coversAction(statement, lower)) continue;
      (statement.deny ? denies : allows).push(statement);
      summaries.push(statement.summary);
    }
    const index = indexByGuard([...denies, ...allows], this.#indexThreshold);
    const result: Candidates = Object.freeze({
      denies,
      allows,
      summaries: Object.freeze(summaries),
      ...(index ? { index } : {}),
    });
    if (this.#cache.size >= MAX_CACHED_ACTIONS) this.#cache.clear();
    this.#cache.set(action, result);
    return result;
  }
}

function indexByGuard(statements: readonly CompiledStatement[], threshold: number): GuardIndex | undefined {
  const guarded = statements.filter((s) => s.guard !== undefined);
  if (guarded.length < threshold || guarded.length === 0) return undefined;
  const byGuard = new Map<string, GuardEntry>();
  const add = (map: Map<string, CompiledStatement[]>, key: string, statement: CompiledStatement) => {
    const list = map.get(key);
    if (list) list.push(statement);
    else map.set(key, [statement]);
  };
  for (const statement of guarded) {
    const guard = statement.guard as Guard;
    let entry = byGuard.get(guard.key);
    if (!entry) {
      entry = {
        anyValue: [],
        byValue: new Map(),
        byPrefix: new Map(),
        bySuffix: new Map(),
        prefixLengths: [],
        suffixLengths: [],
      };
      byGuard.set(guard.key, entry);
    }
    if (!guard.literals) {
      entry.anyValue.push(statement);
      continue;
    }
    for (const value of guard.literals.values) add(entry.byValue, value, statement);
    for (const prefix of guard.literals.prefixes) {
      add(entry.byPrefix, prefix, statement);
      if (!entry.prefixLengths.includes(prefix.length)) entry.prefixLengths.push(prefix.length);
    }
    for (const suffix of guard.literals.suffixes) {
      add(entry.bySuffix, suffix, statement);
      if (!entry.suffixLengths.includes(suffix.length)) entry.suffixLengths.push(suffix.length);
    }
  }
  for (const entry of byGuard.values()) {
    entry.prefixLengths.sort((a, b) => a - b);
    entry.suffixLengths.sort((a, b) => a - b);
  }
  return { unguarded: statements.filter((s) => s.guard === undefined), byGuard };
}

function coversAction(statement: CompiledStatement, lowerAction: string): boolean {
  let matched = false;
  for (const pattern of statement.actions) {
    if (pattern.match(lowerAction, undefined) === MATCH) {
      matched = true;
      break;
    }
  }
  return matched !== statement.notAction;
}

/** Two ascending index lists merged without duplicates (a statement sits in one service list at most once). */
function mergeSorted(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    if (y === undefined || (x !== undefined && x < y)) {
      out.push(x as number);
      i++;
    } else if (x === undefined || y < x) {
      out.push(y);
      j++;
    } else {
      out.push(x);
      i++;
      j++;
    }
  }
  return out;
}

/** Compiles validated policies (from parsePolicy) into a set for evaluate(). */
export function compilePolicies(
  policies: readonly { id: string; policy: Policy }[],
  options?: CompileOptions,
): CompiledPolicySet {
  return new CompiledPolicySet(policies, options);
}

/**
 * The statements that could decide `action`, for pre-filtering: if none is an Allow, nothing is allowed;
 * an unconditional Allow with `allResources` and no Deny allows every resource.
 */
export function statementsFor(set: CompiledPolicySet, action: string): readonly StatementSummary[] {
  return set.candidates(action).summaries;
}
