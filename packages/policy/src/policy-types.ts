/** The policy language versions IAM accepts. Only 2012-10-17 substitutes policy variables (`${…}`). */
export const POLICY_LANGUAGE_VERSIONS = ['2012-10-17', '2008-10-17'] as const;
export type PolicyVersion = (typeof POLICY_LANGUAGE_VERSIONS)[number];

/**
 * Size caps. AWS caps managed policies at 6,144 characters, which is far too small for the generated
 * many-group policies Sesame must handle (State Street's AppGroupName2…n statements); these caps keep one
 * policy from exhausting the server while allowing 10,000-statement documents.
 */
export const POLICY_LIMITS = {
  /** Characters in the JSON text (4 MiB: 10,000 ABAC statements of ~200 characters need ~2 MiB). */
  maxDocumentChars: 4_194_304,
  maxStatements: 10_000,
  /** Entries in one Action/NotAction/Resource/NotResource list, or values of one condition key. */
  maxListEntries: 1_000,
  /** Condition keys in one statement, across all operators. */
  maxConditionsPerStatement: 100,
  /** Characters in one action, resource, condition key or condition value. */
  maxStringChars: 4_096,
  /** JSON nesting depth; a valid policy needs 5. */
  maxNestingDepth: 32,
} as const;

declare const validated: unique symbol;

/**
 * A policy that passed validation. Only parsePolicy() produces one, so compilePolicies() never sees a
 * malformed document (the brand makes a hand-built object a type error).
 */
export type Policy = {
  readonly version: PolicyVersion;
  readonly id?: string;
  readonly statements: readonly PolicyStatement[];
  readonly [validated]: true;
};

export type PolicyStatement = {
  /** Position in the Statement array (0 when Statement is a single object). */
  readonly index: number;
  /** JSON path of the statement: `$.Statement[2]`, or `$.Statement` when Statement is an object. */
  readonly path: string;
  readonly sid?: string;
  readonly effect: 'Allow' | 'Deny';
  /** Exactly one of action / notAction is set. */
  readonly action?: readonly string[];
  readonly notAction?: readonly string[];
  /** Exactly one of resource / notResource is set. */
  readonly resource?: readonly string[];
  readonly notResource?: readonly string[];
  readonly conditions: readonly PolicyCondition[];
};

export type PolicyCondition = {
  /** The operator as written, e.g. `ForAnyValue:StringLikeIfExists`. */
  readonly operator: string;
  /** The condition key with surrounding spaces removed, otherwise as written. */
  readonly key: string;
  /** Values as strings (JSON numbers and booleans are converted as IAM does). */
  readonly values: readonly string[];
  /** JSON path of the condition key, for messages. */
  readonly path: string;
};
