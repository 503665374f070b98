/** The `hapress status --json` contract. Keep it stable: scripts depend on it (see README). */
export interface PodStatus {
  name: string;
  component: "mysql" | "wordpress" | "loadbalancer" | "controller";
  role: "primary" | "replica" | null;
  address: string;
  port: number | null;
  pids: number[];
  ready: boolean;
  restarts: number;
  /** What the pod is doing: running, cloning, initializing, starting, waiting, stopped, crashloop. */
  phase: string;
  gtid: string | null;
  lagSeconds: number | null;
  semiSync: boolean | null;
  readOnly: boolean | null;
  message: string | null;
}

export interface SiteStatus {
  site: string;
  stateDir: string;
  running: boolean;
  ready: boolean;
  supervisorPid: number | null;
  primary: string | null;
  primaryEpoch: number | null;
  endpoints: { mysqlPrimary: string; mysqlReplicas: string; http?: string };
  database: { replicas: number; semiSync: "on" | "off"; semiSyncDetail: string };
  controller: {
    running: boolean;
    /** "watching", or "failing over from mysql-N". */
    state: string;
    lastEvent: { time: string; kind: string; message: string } | null;
  };
  pods: PodStatus[];
  credentials?: {
    app: { user: string; password: string; database: string };
    replication: { user: string; password: string };
    admin: { user: string; password: string };
  };
}

export interface ProgressEvent {
  seq: number;
  time: string;
  level: "info" | "error";
  pod: string | null;
  message: string;
}
