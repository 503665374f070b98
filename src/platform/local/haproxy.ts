import type { Topology } from "../../topology/topology.js";

/** One server line of a backend, and whether it takes traffic. */
export interface ServerPlan {
  backend: "mysql-primary" | "mysql-replicas";
  server: string;
  address: string;
  port: number;
  enabled: boolean;
}

/**
 * Which instance each endpoint routes to. Every instance is listed in both backends so a change of
 * primary is a runtime switch (no reload, no dropped listener): `mysql-primary` enables only the
 * recorded primary, so writes can never reach a replica; `mysql-replicas` enables the others
 * (the primary too when it is alone).
 */
export function planLoadBalancer(topology: Topology, primary: string): ServerPlan[] {
  const single = topology.mysql.length === 1;
  return [
    ...topology.mysql.map((pod) => ({
      backend: "mysql-primary" as const,
      server: pod.name,
      address: pod.address,
      port: pod.port,
      enabled: pod.name === primary,
    })),
    ...topology.mysql.map((pod) => ({
      backend: "mysql-replicas" as const,
      server: pod.name,
      address: pod.address,
      port: pod.port,
      enabled: single || pod.name !== primary,
    })),
  ];
}

export interface LoadBalancerInput {
  topology: Topology;
  primary: string;
  adminSocket: string;
  /** Started by root: the account HAProxy becomes once it has bound its ports and admin socket. */
  runAs?: string | null;
}

/** HAProxy configuration for the site's stable endpoints (our Kubernetes Services), in TCP mode. */
export function renderHaproxyConfig(input: LoadBalancerInput): string {
  const { mysqlPrimary, mysqlReplicas } = input.topology.services;
  const plan = planLoadBalancer(input.topology, input.primary);
  const servers = (backend: ServerPlan["backend"], limit: number) =>
    plan
      .filter((s) => s.backend === backend)
      .map(
        (s) =>
          `  server ${s.server} ${s.address}:${s.port} check maxconn ${limit}${s.enabled ? "" : " disabled"}`,
      );
  return [
    "# Written by hapress from the primary record; do not edit.",
    "global",
    "  maxconn 4096",
    // The listening sockets pass from the old worker to the new one at a reload (seamless): no
    // connection is refused while a new configuration is loaded.
    `  stats socket ${input.adminSocket} mode 600 level admin expose-fd listeners`,
    // After a reload, the old worker finishes its sessions for at most this long (a database client
    // can hold one for hours), then closes them: its clients reconnect through the new one.
    "  hard-stop-after 30s",
    ...(input.runAs ? [`  user ${input.runAs}`, `  group ${input.runAs}`] : []),
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
    // Connections to the database leave from the load balancer's own address, as they would from a
    // node: a pod is told apart by where it speaks from (the chaos partition relies on it).
    `  source ${input.topology.loadBalancer.address}`,
    // Cut client sessions as soon as a server is marked down: they must reconnect to the new primary.
    "  default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions",
    // A refused connection means the server is gone (a crash): say so to the client at once. HAProxy
    // would otherwise wait a turn-around of min(timeout connect, 1 s) before retrying the same dead
    // server, and a client connecting in the instant before the switch lost a whole second.
    "  retries 0",
    // Never more than `maxconn` connections to a server (below its max_connections): the rest wait
    // here, so a reconnecting herd after a failover reaches the new primary a few at a time.
    `  timeout queue ${mysqlPrimary.queueTimeoutMs}ms`,
    // A client that gave up while queued is dropped from the queue, not connected to the server:
    // otherwise, after a failover, live clients wait behind dead ones until they time out too, and
    // the reconnecting herd never gets through (a metastable outage).
    "  option abortonclose",
    ...servers("mysql-primary", mysqlPrimary.maxConnectionsPerServer),
    "",
    "frontend mysql-replicas",
    `  bind ${mysqlReplicas.address}:${mysqlReplicas.port}`,
    "  default_backend mysql-replicas",
    "",
    "backend mysql-replicas",
    `  source ${input.topology.loadBalancer.address}`,
    "  balance leastconn",
    "  default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions",
    // A refused connection is retried at once on another replica, never after a 1 s turn-around.
    "  retries 1",
    "  option redispatch 1",
    `  timeout queue ${mysqlReplicas.queueTimeoutMs}ms`,
    "  option abortonclose",
    ...servers("mysql-replicas", mysqlReplicas.maxConnectionsPerServer),
    "",
    ...renderHttpSection(input.topology),
    "",
    ...renderMetricsSection(input.topology),
  ].join("\n");
}

/** HAProxy's own Prometheus exporter (servers up, sessions, queue, errors), on the site's metrics address. */
function renderMetricsSection(topology: Topology): string[] {
  const { address, loadBalancerPort } = topology.metrics;
  return [
    "frontend metrics",
    "  mode http",
    `  bind ${address}:${loadBalancerPort}`,
    "  timeout client 10s",
    "  http-request use-service prometheus-exporter if { path /metrics }",
    '  http-request return status 404 content-type text/plain string "not found: try /metrics"',
    // HAProxy refuses a file whose last line has no line feed.
    "",
  ];
}

/**
 * The public HTTP endpoint: balances over WordPress pods that pass an active health check (nginx and
 * PHP answer; not the database, whose outage every pod shares: the pods' page caches serve readers
 * through it, which they could not do out of the load balancer). A request that fails on a pod (refused, cut, 502-504) is retried on another one, except
 * requests that must not run twice (anything but GET and HEAD).
 */
function renderHttpSection(topology: Topology): string[] {
  if (topology.wordpress.length === 0) return [];
  return [
    "frontend http",
    "  mode http",
    `  bind ${topology.http.address}:${topology.http.port}`,
    "  timeout client 60s",
    "  timeout http-request 10s",
    "  default_backend wordpress",
    "",
    "backend wordpress",
    "  mode http",
    "  balance roundrobin",
    "  timeout server 120s",
    "  option httpchk",
    "  http-check send meth GET uri /hapress-alive ver HTTP/1.1 hdr Host localhost",
    "  http-check expect status 200",
    "  retries 3",
    "  option redispatch 1",
    "  retry-on conn-failure empty-response response-timeout 502 503 504",
    "  http-request disable-l7-retry unless METH_GET || METH_HEAD",
    "  default-server inter 1s fall 1 rise 1",
    ...topology.wordpress.map((pod) => `  server ${pod.name} ${pod.address}:${pod.port} check`),
    "",
  ];
}

/**
 * Admin-socket commands that turn the routing `from` into `to` without a reload, or null when the
 * set of servers differs (then HAProxy must be restarted with the new configuration).
 * Disabling comes first, with the sessions cut, so two primaries are never routed at once.
 */
export function runtimeSwitchCommands(from: ServerPlan[], to: ServerPlan[]): string[] | null {
  const key = (s: ServerPlan) => `${s.backend}/${s.server}`;
  const before = new Map(from.map((s) => [key(s), s]));
  if (from.length !== to.length || to.some((s) => before.get(key(s))?.address !== s.address)) return null;
  const disable = to.filter((s) => !s.enabled && before.get(key(s))?.enabled);
  const enable = to.filter((s) => s.enabled && !before.get(key(s))?.enabled);
  return [
    ...disable.flatMap((s) => [`disable server ${key(s)}`, `shutdown sessions server ${key(s)}`]),
    ...enable.map((s) => `enable server ${key(s)}`),
  ];
}

/**
 * Commands that bring HAProxy's run-time state to `plan` whatever it was before (idempotent): for a
 * caller that does not know what the load balancer currently routes, such as the controller acting
 * while no supervisor runs.
 */
export function forceRouteCommands(plan: ServerPlan[]): string[] {
  const key = (s: ServerPlan) => `${s.backend}/${s.server}`;
  return [
    ...plan
      .filter((s) => !s.enabled)
      .flatMap((s) => [`disable server ${key(s)}`, `shutdown sessions server ${key(s)}`]),
    ...plan.filter((s) => s.enabled).map((s) => `enable server ${key(s)}`),
  ];
}

/** A WordPress pod as a server of the HTTP backend. */
export interface HttpServer {
  name: string;
  address: string;
  port: number;
}

/** The configuration without the WordPress server lines: what may not change at run time. */
export function loadBalancerShape(config: string): string {
  return config
    .split("\n")
    .filter((line) => !/^ {2}server wordpress-\d+ /.test(line))
    .join("\n");
}

/** A WordPress server as the running HAProxy holds it. */
export interface HeldHttpServer extends HttpServer {
  enabled: boolean;
}

/**
 * Admin-socket commands that make the HTTP backend serve exactly `wanted` without a restart (pure),
 * or null when a server kept its name but moved (then HAProxy must be restarted). A restart closed
 * the listeners and cut every session, database ones included: scaling WordPress failed page reads
 * and writes (found by the chaos scenario scale-wordpress).
 * `present` holds every server HAProxy has, removed ones too: a removed server is put in maintenance
 * (new requests go elsewhere, requests in flight finish) and kept, so scaling up again re-enables it.
 * A server (re-)enabled starts DOWN: HAProxy would otherwise count it up at once and send requests to
 * a pod still starting; its health check brings it in. Dynamic servers take no `default-server` line:
 * their check settings are spelled out.
 */
export function wordpressRuntimeCommands(present: HeldHttpServer[], wanted: HttpServer[]): string[] | null {
  const commands: string[] = [];
  for (const server of wanted) {
    const known = present.find((p) => p.name === server.name);
    if (known && (known.address !== server.address || known.port !== server.port)) return null;
    if (known?.enabled) continue;
    const key = `wordpress/${server.name}`;
    if (!known)
      commands.push(
        `add server ${key} ${server.address}:${server.port} check inter 1s fall 1 rise 1`,
        `enable health ${key}`,
      );
    commands.push(`set server ${key} health down`, `enable server ${key}`);
  }
  for (const server of present)
    if (server.enabled && !wanted.some((w) => w.name === server.name))
      commands.push(`disable server wordpress/${server.name}`);
  return commands;
}

/** What HAProxy holds once `wanted` is applied to `present` (pure). */
export function heldAfter(present: HeldHttpServer[], wanted: HttpServer[]): HeldHttpServer[] {
  const kept = present.map((p) => ({ ...p, enabled: wanted.some((w) => w.name === p.name) }));
  const added = wanted
    .filter((w) => !present.some((p) => p.name === w.name))
    .map((w) => ({ ...w, enabled: true }));
  return [...kept, ...added];
}
