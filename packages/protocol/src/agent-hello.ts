/**
 * What an agent signs (Ed25519) to prove it holds the key it registered: bound to its instance id and to
 * the nonce the server sent in this connection's hello, so a recorded handshake cannot be replayed.
 */
export function agentProofMessage(instanceId: string, nonce: string): Uint8Array {
  return new TextEncoder().encode(`sesame-agent-auth-v1\n${instanceId}\n${nonce}`);
}

/** What an agent reports about its server in its hello (and at registration). */
export type AgentInventory = {
  hostname: string;
  platform: string;
  platformVersion: string;
  ipAddresses: string[];
  agentVersion: string;
};
