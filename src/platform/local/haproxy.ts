import type { Topology } from "../../topology/topology.js";

export interface LoadBalancerInput {
  topology: Topology;
  /** Name of the recorded primary; the only server `mysql-primary` routes to. */
  primary: string;
  adminSocket: string;
}

/**
 * HAProxy configuration for the site's stable endpoints (our Kubernetes Services), in TCP mode.
 * `mysql-primary` has exactly one server, the recorded primary, so writes can never reach a replica;
 * `mysql-replicas` balances over the replicas and falls back to the primary only when none is up.
 */
export function renderHaproxyConfig(input: LoadBalancerInput): string {
  const { topology, primary } = input;
  const primaryPod = topology.mysql.find((pod) => pod.name === primary);
  const replicas = topology.mysql.filter((pod) => pod.name !== primary);
  const { mysqlPrimary, mysqlReplicas } = topology.services;
  const lines = [
    "# Written by hapress from the primary record; do not edit.",
    "global",
    "  maxconn 4096",
    `  stats socket ${input.adminSocket} mode 600 level admin`,
    "",
    "defaults",
    "  mode tcp",
    "  timeout connect 2s",
    "  timeout client 8h",
    "  timeout server 8h",
    "  timeout check 1s",
    "",
    "frontend mysql-primary",
    `  bind ${mysqlPrimary.address}:${mysqlPrimary.port}`,
    "  default_backend mysql-primary",
    "",
    "backend mysql-primary",
    // Cut client sessions as soon as the primary is marked down: they must reconnect to the new one.
    "  default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions",
    ...(primaryPod ? [`  server ${primaryPod.name} ${primaryPod.address}:${primaryPod.port} check`] : []),
    "",
    "frontend mysql-replicas",
    `  bind ${mysqlReplicas.address}:${mysqlReplicas.port}`,
    "  default_backend mysql-replicas",
    "",
    "backend mysql-replicas",
    "  balance leastconn",
    "  default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions",
    ...replicas.map((pod) => `  server ${pod.name} ${pod.address}:${pod.port} check`),
    ...(primaryPod
      ? [`  server ${primaryPod.name} ${primaryPod.address}:${primaryPod.port} check backup`]
      : []),
    "",
  ];
  return lines.join("\n");
}
