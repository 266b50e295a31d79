/** What bench:fuzz's Redfish requests aim at: the nodes, their credentials, and the sessions the fuzzer holds. */

/** What the requests are aimed at. */
export interface RedfishTarget {
  /** Nodes with Redfish (the fuzz nodes): UUID, name and a volume name. */
  nodes: readonly { uuid: string; name: string; volume: string }[];
  username: string;
  password: string;
}

/** What the fuzzer knows of the sessions it opened (tokens come from the server). */
export interface TokenBook {
  live: { token: string; id: string }[];
  /** Tokens of sessions the fuzzer logged out. */
  dead: string[];
}
