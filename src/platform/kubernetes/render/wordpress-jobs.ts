// The WordPress tier's Jobs: the one-shot install (named by a hash of its template, as a pod
// template cannot change) and WordPress's cron as a CronJob.
import { createHash } from "node:crypto";
import { PERMALINK_STRUCTURE } from "../../../wordpress/install.js";
import { type Context, type K8sObject, labels, metadata, resources, secretEnv } from "./common.js";
import { probeHost, wordpressEnv } from "./wordpress.js";

export const INSTALL_SCRIPT = [
  "<?php",
  "// One-shot site install, run by the install Job: exits 0 when the site is already installed.",
  // WordPress answers a database it cannot reach with its error page and `die`, which exits 0: the
  // Job would succeed with nothing installed. Any exit before the end is a failure (the Job retries).
  "$finished = false;",
  'register_shutdown_function(function () { global $finished; if (!$finished) { fwrite(STDERR, "install did not finish\\n"); exit(1); } });',
  "define('WP_INSTALLING', true);",
  "$_SERVER['HTTP_HOST'] = getenv('SITE_HOST') ?: 'localhost';",
  "require '/usr/src/wordpress/wp-load.php';",
  "require_once ABSPATH . 'wp-admin/includes/upgrade.php';",
  'if (is_blog_installed()) { fwrite(STDERR, "already installed\\n"); $finished = true; exit(0); }',
  "$password = rtrim(file_get_contents(getenv('ADMIN_PASSWORD_FILE')), \"\\r\\n\");",
  "$result = wp_install(getenv('SITE_TITLE'), getenv('ADMIN_USER'), getenv('ADMIN_EMAIL'), true, '', wp_slash($password));",
  'if (is_wp_error($result)) { fwrite(STDERR, $result->get_error_message() . "\\n"); exit(1); }',
  // The installer keeps plain links when its request to the site fails (from a Job it cannot reach
  // the site's public address): the same permalinks as the local target's install, set outright.
  `update_option('permalink_structure', '${PERMALINK_STRUCTURE}');`,
  "delete_option('rewrite_rules');",
  'echo "installed\\n";',
  "$finished = true;",
  "",
].join("\n");

/**
 * The one-shot install. A Job's pod template cannot be changed once created, so its name carries a
 * hash of its spec: a changed image, title or admin is a new Job (which finds the site installed and
 * exits 0), and apply prunes the old one, instead of the API server refusing the apply halfway.
 */
export function installJob(ctx: Context): K8sObject {
  const k = ctx.spec.kubernetes;
  const spec = {
    backoffLimit: 20,
    template: {
      metadata: { labels: labels(ctx, "install") },
      spec: {
        // No API access: only the controller talks to the API server.
        automountServiceAccountToken: false,
        restartPolicy: "OnFailure",
        containers: [
          {
            name: "install",
            image: k.images.wordpress,
            command: ["/bin/sh", "-c"],
            args: [
              "cp /usr/src/wordpress/wp-config-docker.php /usr/src/wordpress/wp-config.php && php /scripts/install.php",
            ],
            env: [
              ...wordpressEnv(ctx),
              { name: "SITE_HOST", value: probeHost(ctx) },
              { name: "SITE_TITLE", value: ctx.spec.site.title },
              { name: "ADMIN_USER", value: ctx.spec.site.adminUser },
              { name: "ADMIN_EMAIL", value: ctx.spec.site.adminEmail },
              secretEnv("ADMIN_PASSWORD", "wordpress-admin-password"),
            ],
            resources: resources(k.resources.wordpress),
            volumeMounts: [{ name: "scripts", mountPath: "/scripts" }],
          },
        ],
        volumes: [{ name: "scripts", configMap: { name: "wordpress-install" } }],
      },
    },
  };
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: metadata(ctx, `${INSTALL_JOB_PREFIX}${specHash(spec)}`, "install"),
    spec,
  };
}

/** The install Job's name up to its hash (wordpress-install-<8 hex>). */
export const INSTALL_JOB_PREFIX = "wordpress-install-";

function specHash(spec: unknown): string {
  return createHash("sha256").update(JSON.stringify(spec)).digest("hex").slice(0, 8);
}

export function installConfigMap(ctx: Context): K8sObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: metadata(ctx, "wordpress-install", "install"),
    data: { "install.php": INSTALL_SCRIPT },
  };
}

export function cronJob(ctx: Context): K8sObject {
  const k = ctx.spec.kubernetes;
  return {
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: metadata(ctx, "wordpress-cron", "cron"),
    spec: {
      // wp-cron once a minute from one place, not on every page view of every replica.
      schedule: "* * * * *",
      concurrencyPolicy: "Forbid",
      successfulJobsHistoryLimit: 1,
      failedJobsHistoryLimit: 3,
      jobTemplate: {
        spec: {
          backoffLimit: 0,
          activeDeadlineSeconds: 120,
          template: {
            metadata: { labels: labels(ctx, "cron") },
            spec: {
              // No API access: only the controller talks to the API server.
              automountServiceAccountToken: false,
              restartPolicy: "Never",
              containers: [
                {
                  name: "wp-cron",
                  image: k.images.curl,
                  args: [
                    "-fsS",
                    "--max-time",
                    "100",
                    "-H",
                    `Host: ${probeHost(ctx)}`,
                    `http://wordpress.${ctx.namespace}.svc/wp-cron.php`,
                  ],
                  resources: resources({ cpu: "10m", memory: "16Mi" }),
                  // curl writes nothing.
                  securityContext: { readOnlyRootFilesystem: true },
                },
              ],
            },
          },
        },
      },
    },
  };
}
