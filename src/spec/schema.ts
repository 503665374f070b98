import { z } from "zod";

/** A DNS-label-like name, usable as a Kubernetes object name and a folder name. */
const siteName = z
  .string()
  .regex(
    /^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$/,
    "must be lowercase letters, digits and '-', start with a letter",
  );

/** The site spec (`hapress.yaml`). Every field has a default, so no file at all is a valid spec. */
export const specSchema = z
  .object({
    name: siteName.default("hapress"),
    database: z
      .object({
        replicas: z.number().int().min(1, "must be at least 1").max(9, "must be at most 9").default(3),
        /** Semi-sync acknowledgement timeout: long, so the primary does not silently go asynchronous. */
        semiSyncTimeoutMs: z.number().int().min(1000).max(3_600_000).default(30_000),
        /** InnoDB buffer pool per instance; small by default so a laptop runs 3 instances easily. */
        bufferPoolMB: z.number().int().min(16).max(65_536).default(128),
      })
      .strict()
      .default({}),
    wordpress: z
      .object({
        replicas: z.number().int().min(0, "must be at least 0").max(20).default(3),
      })
      .strict()
      .default({}),
    site: z
      .object({
        title: z.string().min(1).max(200).default("hapress"),
        adminUser: z
          .string()
          .regex(/^[A-Za-z0-9_.@-]{1,60}$/, "must be 1-60 letters, digits or _ . @ -")
          .default("admin"),
        adminEmail: z.string().email().default("admin@example.com"),
      })
      .strict()
      .default({}),
    local: z
      .object({
        httpPort: z.number().int().min(1).max(65_535).default(8080),
        httpAddress: z.string().ip({ version: "v4" }).default("127.0.0.1"),
      })
      .strict()
      .default({}),
  })
  .strict();

export type Spec = z.infer<typeof specSchema>;
export type SpecInput = z.input<typeof specSchema>;

/** Example values shown next to a validation error, keyed by the field path. */
export const specExamples: Record<string, string> = {
  name: "name: myblog",
  "database.replicas": "database:\n  replicas: 3",
  "database.semiSyncTimeoutMs": "database:\n  semiSyncTimeoutMs: 30000",
  "database.bufferPoolMB": "database:\n  bufferPoolMB: 128",
  "wordpress.replicas": "wordpress:\n  replicas: 3",
  "site.title": "site:\n  title: My Blog",
  "site.adminUser": "site:\n  adminUser: admin",
  "site.adminEmail": "site:\n  adminEmail: admin@example.com",
  "local.httpPort": "local:\n  httpPort: 8080",
  "local.httpAddress": "local:\n  httpAddress: 127.0.0.1",
};
