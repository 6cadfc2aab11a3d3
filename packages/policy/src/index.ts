/**
 * IAM-compatible policy grammar and evaluation (issue 3). Until it lands, the server's authorize()
 * applies a fixed deny-by-default rule set (see packages/server/src/authorize.ts).
 */
export const POLICY_LANGUAGE_VERSIONS = ['2012-10-17', '2008-10-17'] as const;
