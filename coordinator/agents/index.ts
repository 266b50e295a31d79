/** What the rest of the coordinator may use from coordinator/agents/: the agents it knows and how it calls them. */
export type { AgentPort, HostPhysnet, NodeKey, PowerVerb } from './port.js';
export { AgentRegistry, type AgentView } from './registry.js';
