// Backups on Kubernetes, from inside the cluster: the backup CronJob's pod reads the database from a
// replica's agent (the same TLS stream a new replica clones from) onto the backup volume, and the
// archiver Deployment copies the primary's binary logs there, following the primary the controller
// records. Both are the local target's code (backup/*) with the cluster as the source of the facts.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { archivedFiles, oldestBinlog, runArchiver } from "../../backup/binlog-archiver.js";
import { pruneBackups } from "../../backup/prune.js";
import { DEFAULT_ARCHIVE } from "../../backup/archive-folder.js";
import { chooseBackupSource, writeBackup, type TakenBackup } from "../../backup/take.js";
import { errorMessage, HapressError } from "../../errors.js";
import type { Spec } from "../../spec/schema.js";
import type { PrimaryRecord } from "../../state/primary.js";
import { AGENT_PORT, MYSQL_PORT } from "../../topology/topology.js";
import { segmentName } from "../local/binlog-archive-keeper.js";
import type { SiteStatus } from "../../status/site-status.js";
import { apiMessage, apiStatus } from "./cluster.js";
import { parsePrimaryRecord, STATE_CONFIGMAP } from "./cluster-state.js";
import { listDatabasePods } from "./database-pods.js";
import { clusterSiteStatus } from "./site-status.js";

/** What a backup pod or the archiver needs to know of the database tier: its pods and the primary record. */
export interface DatabaseView {
  pods: V1Pod[];
  record: PrimaryRecord | null;
}

export async function readDatabaseView(
  kc: KubeConfig,
  namespace: string,
  site: string,
): Promise<DatabaseView> {
  const core = kc.makeApiClient(CoreV1Api);
  try {
    const [pods, state] = await Promise.all([
      listDatabasePods(core, namespace, site),
      core.readNamespacedConfigMap({ name: STATE_CONFIGMAP, namespace }).catch((error: unknown) => {
        if (apiStatus(error) === 404) return null;
        throw error;
      }),
    ]);
    return { pods, record: state ? parsePrimaryRecord(state.data ?? {}) : null };
  } catch (error) {
    throw new HapressError(`cannot read the database pods of ${site} in ${namespace}: ${apiMessage(error)}`, {
      cause: error,
    });
  }
}

/** The database tier as the local target's status describes it (pure), for chooseBackupSource. */
export function databaseStatus(spec: Spec, namespace: string, view: DatabaseView, now: Date): SiteStatus {
  return clusterSiteStatus(
    spec,
    {
      context: "in-cluster",
      namespace,
      statefulSet: null,
      wordpress: null,
      pods: view.pods,
      state: view.record ? { primary: JSON.stringify(view.record) } : null,
      observed: null,
      lease: null,
      events: [],
    },
    now,
  );
}

export interface ClusterBackupOptions {
  kc: KubeConfig;
  namespace: string;
  spec: Spec;
  specFile: string;
  destination: string;
  /** The WordPress content volume's mount, or null when the site has no WordPress tier. */
  contentDir: string | null;
  cloneToken: string;
  log: (line: string) => void;
  now?: () => Date;
}

/** One backup of the site into the backup volume, then `backup.keep` applied to it. */
export async function takeClusterBackup(
  options: ClusterBackupOptions,
): Promise<{ backup: TakenBackup; removed: string[] }> {
  const now = options.now ?? (() => new Date());
  const view = await readDatabaseView(options.kc, options.namespace, options.spec.name);
  const source = chooseBackupSource(databaseStatus(options.spec, options.namespace, view, now()));
  if (!source)
    throw new HapressError(
      `no database pod of ${options.spec.name} is ready to read a backup from (pods: ${view.pods.map((p) => p.metadata?.name ?? "?").join(", ") || "none"})`,
    );
  const backup = await writeBackup({
    site: options.spec.name,
    source,
    donor: { name: source.pod.name, address: source.pod.address, port: AGENT_PORT },
    cloneToken: options.cloneToken,
    destination: options.destination,
    contentDir: options.contentDir,
    specFile: options.specFile,
    secretsFile: null,
    // One history per cluster site: the archiver writes <claim>/binlogs.
    archive: DEFAULT_ARCHIVE,
    log: options.log,
    now,
  });
  const removed = await pruneBackups(options.destination, options.spec.backup.keep, now());
  return { backup, removed };
}

/** Where the archiver should be (pure): the recorded primary's segment, once that pod has an address. */
export function wantedSegment(view: DatabaseView): { segment: string; pod: string; address: string } | null {
  if (!view.record) return null;
  const primary = view.record.primary;
  const pod = view.pods.find((p) => p.metadata?.name === primary);
  const address = pod?.status?.podIP;
  if (!pod || !address || pod.metadata?.deletionTimestamp) return null;
  const ready = (pod.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
  return ready ? { segment: segmentName(view.record), pod: primary, address } : null;
}

export interface ClusterArchiverOptions {
  archiveDir: string;
  readView: () => Promise<DatabaseView>;
  credentials: { user: string; password: string };
  log: (line: string) => void;
  sleep: (ms: number) => Promise<void>;
  /** How often the primary record is read. */
  intervalMs: number;
  stopping: () => boolean;
  /** After every round: the segment being streamed and its primary's address, or null (health, metrics). */
  onRound?: (streaming: { segment: string; address: string } | null) => void;
}

/**
 * The archiver's loop: follow the recorded primary, one segment per primary record (as the local
 * supervisor does); a new record stops the old stream first; a stream that ends while its primary is
 * still the one recorded is started again on the next round (it resumes from its last file).
 */
export async function runClusterArchiver(options: ClusterArchiverOptions): Promise<void> {
  interface Stream {
    segment: string;
    address: string;
    stop: () => void;
    done: Promise<number>;
    ended: boolean;
  }
  let current: Stream | null = null;
  const stopCurrent = async () => {
    if (!current) return;
    current.stop();
    await current.done;
    current = null;
  };
  while (!options.stopping()) {
    let wanted: ReturnType<typeof wantedSegment> = null;
    try {
      wanted = wantedSegment(await options.readView());
    } catch (error) {
      // Keep streaming: the API server being away says nothing about the primary.
      options.log(`cannot read the primary record: ${errorMessage(error)}`);
      await options.sleep(options.intervalMs);
      continue;
    }
    if (current && (current.ended || current.segment !== wanted?.segment)) await stopCurrent();
    if (!current && wanted) {
      const segmentDir = join(options.archiveDir, wanted.segment);
      try {
        const first = await oldestBinlog({ host: wanted.address, port: MYSQL_PORT }, options.credentials);
        await mkdir(segmentDir, { recursive: true, mode: 0o700 });
        const held = archivedFiles(segmentDir).length;
        options.log(
          `archiving ${wanted.pod}'s binary logs into ${segmentDir}${held > 0 ? ` (resuming, ${held} file(s) held)` : ""}`,
        );
        const run = runArchiver({
          host: wanted.address,
          port: MYSQL_PORT,
          user: options.credentials.user,
          password: options.credentials.password,
          segmentDir,
          firstFile: first,
          log: options.log,
        });
        const started: Stream = {
          segment: wanted.segment,
          address: wanted.address,
          stop: run.stop,
          done: run.done,
          ended: false,
        };
        void run.done.then(() => (started.ended = true));
        current = started;
      } catch (error) {
        options.log(`the binary log archive cannot start yet: ${errorMessage(error)}`);
      }
    }
    options.onRound?.(
      current && !current.ended ? { segment: current.segment, address: current.address } : null,
    );
    await options.sleep(options.intervalMs);
  }
  await stopCurrent();
}
