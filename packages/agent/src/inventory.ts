import { hostname, networkInterfaces, platform, release } from 'node:os';
import type { AgentInventory } from '@sesame/protocol';

export const AGENT_VERSION = '0.1.0';

export type Inventory = AgentInventory;

export function collectInventory(): Inventory {
  const ipAddresses = Object.values(networkInterfaces())
    .flat()
    .filter((a) => a !== undefined && !a.internal)
    .map((a) => a?.address as string)
    .slice(0, 64);
  return {
    hostname: hostname() || 'unknown',
    platform: platform(),
    platformVersion: release(),
    ipAddresses,
    agentVersion: AGENT_VERSION,
  };
}
