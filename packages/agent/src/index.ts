export { type AgentOptions, backoffDelay, runAgent } from './agent.ts';
export { agentCommands, defaultIdentityPath } from './commands.ts';
export { type AgentIdentity, loadIdentity, saveIdentity } from './identity.ts';
export { AGENT_VERSION, collectInventory } from './inventory.ts';
export { RegistrationError, registerAgent } from './register.ts';
export { type RunAsUser, resolveRunAs } from './run-as.ts';
