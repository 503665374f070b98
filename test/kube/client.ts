// A small HTTPS client for the Kubernetes tests and benchmark: enough of the Kubernetes REST API to
// apply, read, patch and delete objects as a given identity (client certificate or bearer token).
import { request } from "node:https";

export interface KubeCredentials {
  ca: string;
  cert?: string;
  key?: string;
  token?: string;
}

export interface KubeResponse {
  status: number;
  body: string;
}

/** A Kubernetes object as the API returns it (only what tests read is typed). */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
    deletionGracePeriodSeconds?: number;
    ownerReferences?: { kind: string; name: string }[];
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  [key: string]: unknown;
}

export class KubeApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(message);
  }
}

export class KubeClient {
  constructor(
    readonly server: string,
    readonly credentials: KubeCredentials,
  ) {}

  /** The same server as another identity. */
  as(credentials: Partial<KubeCredentials>): KubeClient {
    return new KubeClient(this.server, { ca: this.credentials.ca, ...credentials });
  }

  raw(method: string, path: string, body?: string, contentType?: string): Promise<KubeResponse> {
    return this.rawAt(this.server, method, path, { body, contentType });
  }

  /** One request, bounded by a 30 s deadline. `insecure` is for components' self-signed health ports. */
  rawAt(
    base: string,
    method: string,
    path: string,
    options: { body?: string; contentType?: string; insecure?: boolean } = {},
  ): Promise<KubeResponse> {
    const url = new URL(path, base);
    const { ca, cert, key, token } = this.credentials;
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          ca: options.insecure ? undefined : ca,
          rejectUnauthorized: !options.insecure,
          cert: options.insecure ? undefined : cert,
          key: options.insecure ? undefined : key,
          timeout: 30_000,
          headers: {
            accept: "application/json",
            ...(token && !options.insecure ? { authorization: `Bearer ${token}` } : {}),
            // The length said explicitly: Node sends a DELETE's body neither chunked nor with a length
            // otherwise, and the server reads it as a second, malformed request (400 Bad Request).
            ...(options.body !== undefined
              ? {
                  "content-type": options.contentType ?? "application/json",
                  "content-length": String(Buffer.byteLength(options.body)),
                }
              : {}),
          },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => (text += chunk));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer within 30 s`)));
      req.on("error", reject);
      req.end(options.body);
    });
  }

  /** A JSON request that must succeed (2xx); otherwise a KubeApiError with the server's message. */
  async call<T = KubeObject>(method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
    const response = await this.raw(
      method,
      path,
      body === undefined ? undefined : JSON.stringify(body),
      contentType,
    );
    if (response.status < 200 || response.status >= 300) {
      let message = response.body;
      try {
        message = (JSON.parse(response.body) as { message?: string }).message ?? message;
      } catch {
        // not JSON: keep the text
      }
      throw new KubeApiError(
        `${method} ${path}: ${response.status} ${message}`,
        response.status,
        response.body,
      );
    }
    return (response.body ? JSON.parse(response.body) : {}) as T;
  }

  get<T = KubeObject>(path: string): Promise<T> {
    return this.call<T>("GET", path);
  }

  async list(path: string): Promise<KubeObject[]> {
    return (await this.call<{ items: KubeObject[] }>("GET", path)).items;
  }

  mergePatch(path: string, patch: unknown): Promise<KubeObject> {
    return this.call("PATCH", path, patch, "application/merge-patch+json");
  }

  /** Server-side apply of one object (optionally as a server-side dry run). */
  apply(object: KubeObject, options: { dryRun?: boolean; fieldManager?: string } = {}): Promise<KubeObject> {
    const query = new URLSearchParams({
      fieldManager: options.fieldManager ?? "hapress-test",
      force: "true",
    });
    if (options.dryRun) query.set("dryRun", "All");
    return this.call("PATCH", `${objectPath(object)}?${query}`, object, "application/apply-patch+yaml");
  }
}

/** Plural resource names of the kinds hapress renders. */
const RESOURCES: Record<string, string> = {
  Namespace: "namespaces",
  StorageClass: "storageclasses",
  ServiceAccount: "serviceaccounts",
  Role: "roles",
  RoleBinding: "rolebindings",
  Secret: "secrets",
  ConfigMap: "configmaps",
  PersistentVolumeClaim: "persistentvolumeclaims",
  PersistentVolume: "persistentvolumes",
  Service: "services",
  StatefulSet: "statefulsets",
  Deployment: "deployments",
  Job: "jobs",
  CronJob: "cronjobs",
  Ingress: "ingresses",
  PodDisruptionBudget: "poddisruptionbudgets",
  NetworkPolicy: "networkpolicies",
  Pod: "pods",
  Node: "nodes",
  Lease: "leases",
};

/** The REST path of an object from its apiVersion, kind, namespace and name. */
export function objectPath(object: Pick<KubeObject, "apiVersion" | "kind" | "metadata">): string {
  const apiVersion = object.apiVersion ?? "v1";
  const resource = RESOURCES[object.kind ?? ""];
  if (!resource) throw new Error(`no REST resource known for kind ${object.kind}`);
  const prefix = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const namespace = object.metadata.namespace ? `/namespaces/${object.metadata.namespace}` : "";
  return `${prefix}${namespace}/${resource}/${object.metadata.name}`;
}
