import type { Audit } from '../audit.ts';
import type { Principal } from '../authorize.ts';
import type { AccessModel } from './access-model.ts';

export type AccessChanged = (
  principal: Principal,
  action: string,
  resource: string,
  detail?: Record<string, unknown>,
) => Promise<void>;

/** After every access change: the model is reloaded whole (new decisions apply at once), then audited. */
export function accessChanged({
  model,
  audit,
}: {
  model: Pick<AccessModel, 'reload'>;
  audit: Audit;
}): AccessChanged {
  return async (principal, action, resource, detail = {}) => {
    await model.reload();
    await audit({ actor: principal, action, resource, outcome: 'succeeded', detail });
  };
}
