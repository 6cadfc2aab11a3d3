/** Resource names in the AWS shapes the seed policies match (see DESIGN.md, "Names people already know"). */
export type ArnSettings = { partition: string; region: string; account: string };

export function instanceArn(arn: ArnSettings, instance: { id: string; kind: 'ec2' | 'managed' }): string {
  return instance.kind === 'ec2'
    ? `arn:${arn.partition}:ec2:${arn.region}:${arn.account}:instance/${instance.id}`
    : `arn:${arn.partition}:ssm:${arn.region}:${arn.account}:managed-instance/${instance.id}`;
}

/** The ARN an instance id names, its kind read from the id (`mi-` on-premises): for ids that may match no instance. */
export function instanceIdArn(arn: ArnSettings, id: string): string {
  return instanceArn(arn, { id, kind: id.startsWith('mi-') ? 'managed' : 'ec2' });
}

export function sessionArn(arn: ArnSettings, sessionId: string): string {
  return `arn:${arn.partition}:ssm:${arn.region}:${arn.account}:session/${sessionId}`;
}

export function serverArn(arn: ArnSettings, kind: string, id: string): string {
  return `arn:${arn.partition}:sesame:${arn.region}:${arn.account}:${kind}/${id}`;
}

export const SHELL_DOCUMENT = 'SSM-SessionManagerRunShell';
