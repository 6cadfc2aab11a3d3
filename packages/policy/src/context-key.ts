const SSM_RESOURCE_TAG = 'ssm:resourcetag/';
const AWS_RESOURCE_TAG = 'aws:resourcetag/';

/**
 * The form a condition key is looked up by: lower case (IAM key names are case-insensitive), with
 * `ssm:resourceTag/X` folded into its alias `aws:ResourceTag/X` (both name the target instance's tag X).
 */
export function normalizeContextKey(key: string): string {
  const lower = key.toLowerCase();
  return lower.startsWith(SSM_RESOURCE_TAG) ? AWS_RESOURCE_TAG + lower.slice(SSM_RESOURCE_TAG.length) : lower;
}

/**
 * Keys that describe the target rather than the principal: its tags and the session document. A context
 * layer holding only these cannot change a condition on any other key (see evaluatorFor).
 */
export function isResourceKey(normalizedKey: string): boolean {
  return normalizedKey.startsWith(AWS_RESOURCE_TAG) || normalizedKey === 'sesame:sessiondocumentname';
}
