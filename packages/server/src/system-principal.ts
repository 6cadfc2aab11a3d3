import type { Principal } from './authorize.ts';

/** The server acting on its own behalf (first start, the local agent's activation); never reachable over the API. */
export const SYSTEM_PRINCIPAL: Principal = {
  userId: 'system',
  username: 'system',
  sourceAddress: null,
  system: true,
};
