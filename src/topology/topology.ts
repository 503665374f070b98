import { createHash } from "node:crypto";
import type { Spec } from "../spec/schema.js";

/** A per-site loopback /24, written as its first three octets: "127.A.B". */
export type Subnet = string;

export type Component = "mysql" | "wordpress" | "loadbalancer";

/** One "pod" of the desired topology: plain data, consumed by both platforms. */
export interface PodPlan {
  name: string;
  component: Component;
  ordinal: number;
  address: string;
  port: number;
}

/** A stable endpoint, like a Kubernetes Service, served by the site's load balancer. */
export interface ServicePlan {
  name: "mysql-primary" | "mysql-replicas";
  address: string;
  port: number;
  /** At most this many connections to one instance; the rest queue up to `queueTimeoutMs`, then are refused. */
  maxConnectionsPerServer: number;
  queueTimeoutMs: number;
}

/**
 * How many connections an endpoint (mysql-primary, mysql-replicas) opens to one instance, and on
 * Kubernetes how many the app user may hold (MAX_USER_CONNECTIONS): below max_connections, so the
 * app can never take the slots replication needs.
 */
export function endpointServerLimit(database: Spec["database"]): number {
  return database.endpoints.maxConnectionsPerServer ?? Math.max(1, Math.floor(database.maxConnections * 0.8));
}

export interface Topology {
  site: string;
  subnet: Subnet;
  mysql: PodPlan[];
  wordpress: PodPlan[];
  /** The site's public HTTP address, served by the load balancer. */
  http: { address: string; port: number };
  loadBalancer: PodPlan;
  services: { mysqlPrimary: ServicePlan; mysqlReplicas: ServicePlan };
  /** Where Prometheus scrapes the site (loopback): the controller's /metrics and HAProxy's exporter. */
  metrics: { address: string; controllerPort: number; supervisorPort: number; loadBalancerPort: number };
}

export const MYSQL_PORT = 3306;
/** The agent's backup-stream port, the tutorial's ncat sidecar port. */
export const AGENT_PORT = 3307;
/**
 * Each instance's admin port (MariaDB's extra_port, with slots of its own): the controller, the
 * supervisor and probes use it, so clients holding every client slot can never lock them out.
 */
export const ADMIN_PORT = 3308;

/** The controller's /metrics (locally on the site's metrics address; on Kubernetes its health port serves it). */
export const CONTROLLER_METRICS_PORT = 9400;
/** The local supervisor's /metrics (pods, restarts, page cache, backups, archive); on Kubernetes the archiver's (backups, archive). */
export const SUPERVISOR_METRICS_PORT = 9401;
/** The optional mysqld_exporter of each database pod (Prometheus' registered default port). */
export const MYSQLD_EXPORTER_PORT = 9104;
/** HAProxy's built-in Prometheus exporter (locally on the site's metrics address). */
export const LOAD_BALANCER_METRICS_PORT = 8405;

const MYSQL_HOST_OFFSET = 10;
const WORDPRESS_HOST_OFFSET = 50;
/** nginx in each WordPress pod listens here on the pod's own address (unprivileged, no root needed). */
export const WORDPRESS_POD_PORT = 8080;

/**
 * Derives a stable per-site subnet from the state folder's absolute path, avoiding 127.0.x
 * (127.0.0.1 and Debian's 127.0.1.1 hostname entry) so several sites coexist on one machine.
 */
export function subnetForStateDir(absoluteStateDir: string): Subnet {
  const digest = createHash("sha256").update(absoluteStateDir).digest();
  const a = 2 + ((digest[0] ?? 0) % 253);
  const b = digest[1] ?? 0;
  return `127.${a}.${b}`;
}

/** The address of database instance `ordinal` in the subnet. */
export function mysqlAddress(subnet: Subnet, ordinal: number): string {
  return `${subnet}.${MYSQL_HOST_OFFSET + ordinal}`;
}

export function wordpressAddress(subnet: Subnet, ordinal: number): string {
  return `${subnet}.${WORDPRESS_HOST_OFFSET + ordinal}`;
}

/** The site's metrics address: the controller and HAProxy serve Prometheus there (loopback only). */
export function metricsAddress(subnet: Subnet): string {
  return `${subnet}.4`;
}

/** The name of database instance `ordinal`, as a StatefulSet would name it. */
export function mysqlPodName(ordinal: number): string {
  return `mysql-${ordinal}`;
}

/** Parses "wordpress-3" into 3; null when the name is not a WordPress pod. */
export function wordpressOrdinal(name: string): number | null {
  const match = /^wordpress-(\d+)$/.exec(name);
  return match ? Number(match[1]) : null;
}

/** Parses "mysql-3" into 3; null when the name is not a database pod. */
export function mysqlOrdinal(name: string): number | null {
  const match = /^mysql-(\d+)$/.exec(name);
  return match ? Number(match[1]) : null;
}

/** The desired topology: a pure function of the spec and the site's subnet. */
export function planTopology(spec: Spec, subnet: Subnet): Topology {
  const mysql = Array.from({ length: spec.database.replicas }, (_, ordinal) => ({
    name: mysqlPodName(ordinal),
    component: "mysql" as const,
    ordinal,
    address: mysqlAddress(subnet, ordinal),
    port: MYSQL_PORT,
  }));
  const wordpress = Array.from({ length: spec.wordpress.replicas }, (_, ordinal) => ({
    name: `wordpress-${ordinal}`,
    component: "wordpress" as const,
    ordinal,
    address: wordpressAddress(subnet, ordinal),
    port: WORDPRESS_POD_PORT,
  }));
  const limits = {
    maxConnectionsPerServer: endpointServerLimit(spec.database),
    queueTimeoutMs: spec.database.endpoints.queueTimeoutMs,
  };
  return {
    site: spec.name,
    subnet,
    mysql,
    wordpress,
    http: { address: spec.local.httpAddress, port: spec.local.httpPort },
    loadBalancer: { name: "haproxy", component: "loadbalancer", ordinal: 0, address: `${subnet}.1`, port: 0 },
    services: {
      mysqlPrimary: { name: "mysql-primary", address: `${subnet}.2`, port: MYSQL_PORT, ...limits },
      mysqlReplicas: { name: "mysql-replicas", address: `${subnet}.3`, port: MYSQL_PORT, ...limits },
    },
    metrics: {
      address: metricsAddress(subnet),
      controllerPort: CONTROLLER_METRICS_PORT,
      supervisorPort: SUPERVISOR_METRICS_PORT,
      loadBalancerPort: LOAD_BALANCER_METRICS_PORT,
    },
  };
}

/**
 * The pods among `names` beyond the desired count, highest ordinal first: scale-down removes them in
 * that order, as a StatefulSet does.
 */
export function surplusPods(
  names: string[],
  ordinalOf: (name: string) => number | null,
  desired: number,
): string[] {
  return names
    .map((name) => ({ name, ordinal: ordinalOf(name) }))
    .filter((e): e is { name: string; ordinal: number } => e.ordinal !== null && e.ordinal >= desired)
    .sort((a, b) => b.ordinal - a.ordinal)
    .map((e) => e.name);
}
