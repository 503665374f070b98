// The Kubernetes tests' and benchmark's view of the REST API, by path: apply, read, patch and delete
// objects as a given identity. The transport, TLS and authentication are @kubernetes/client-node's
// (the product's own client): a kubeconfig's certificates, or a bearer token.
import { HttpMethod, IsomorphicFetchHttpLibrary, KubeConfig, RequestContext } from "@kubernetes/client-node";

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
  private readonly http = new IsomorphicFetchHttpLibrary();

  constructor(private readonly kc: KubeConfig) {}

  /** The client of a kubeconfig file's current context. */
  static fromFile(path: string): KubeClient {
    const kc = new KubeConfig();
    kc.loadFromFile(path);
    return new KubeClient(kc);
  }

  get server(): string {
    const server = this.kc.getCurrentCluster()?.server;
    if (!server) throw new Error("the kubeconfig names no cluster server");
    return server;
  }

  /** The same server as another identity: a bearer token (a ServiceAccount's). */
  as(credentials: { token: string }): KubeClient {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error("the kubeconfig names no cluster");
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [cluster],
      users: [{ name: "token", token: credentials.token }],
      contexts: [{ name: "token", cluster: cluster.name, user: "token" }],
      currentContext: "token",
    });
    return new KubeClient(kc);
  }

  /** One request, bounded by a 30 s deadline. */
  async raw(method: string, path: string, body?: string, contentType?: string): Promise<KubeResponse> {
    const context = new RequestContext(new URL(path, this.server).toString(), method as HttpMethod);
    context.setHeaderParam("Accept", "application/json");
    if (body !== undefined) {
      context.setHeaderParam("Content-Type", contentType ?? "application/json");
      context.setBody(body);
    }
    context.setSignal(AbortSignal.timeout(30_000));
    await this.kc.applySecurityAuthentication(context);
    const response = await this.http.send(context).toPromise();
    return { status: response.httpStatusCode, body: await response.body.text() };
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
