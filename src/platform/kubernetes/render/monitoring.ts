// Prometheus Operator objects, rendered only when the spec asks (their CRDs must be installed): a
// PodMonitor for the controller's (and the mysqld exporters') metrics port and a PrometheusRule carrying hapress's alert rules.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { packageFile } from "../../../util/package-file.js";
import { type Context, type K8sObject, metadata, selector } from "./common.js";

/** The alert rules shipped in deploy/prometheus (checked by promtool in the tests). */
export const ALERT_RULES_FILE = "deploy/prometheus/hapress-alerts.yml";

export function monitoringObjects(ctx: Context): K8sObject[] {
  const { podMonitor, prometheusRule } = ctx.spec.kubernetes.monitoring;
  const objects: K8sObject[] = [];
  const monitor = (name: string, component: "controller" | "database" | "archive"): K8sObject => ({
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PodMonitor",
    metadata: metadata(ctx, name, component),
    spec: {
      selector: { matchLabels: selector(ctx, component) },
      podMetricsEndpoints: [{ port: "metrics", path: "/metrics", interval: "15s" }],
    },
  });
  if (podMonitor) {
    objects.push(monitor("hapress-controller", "controller"));
    if (ctx.spec.metrics.mysqldExporter) objects.push(monitor("mysqld-exporter", "database"));
    if (ctx.spec.backup.archiveBinlogs) objects.push(monitor("hapress-binlog-archiver", "archive"));
  }
  if (prometheusRule) {
    const rules = parse(readFileSync(packageFile(ALERT_RULES_FILE), "utf8")) as { groups: unknown[] };
    objects.push({
      apiVersion: "monitoring.coreos.com/v1",
      kind: "PrometheusRule",
      metadata: metadata(ctx, "hapress-alerts", "controller"),
      spec: { groups: rules.groups },
    });
  }
  return objects;
}
