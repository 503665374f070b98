import { z } from "zod";
import { InputError } from "../../errors.js";
import type { DatabaseInstance } from "../../controller/platform.js";
import type { ProgressEvent, SiteStatus } from "../../status/site-status.js";
import type { RpcRequest } from "./rpc.js";

// The supervisor's socket protocol (the RPC adapter): every request it accepts, checked against its schema before it is
// handled, so a handler works on typed fields and a malformed request is refused with what is wrong
// (exit code 2 on the caller's side), never half-handled.

const pod = z.string().regex(/^mysql-\d+$/, "a database pod's name, e.g. mysql-1");

export const supervisorRequestSchema = z.discriminatedUnion("method", [
  z.object({ method: z.literal("status") }),
  z.object({
    method: z.literal("progress"),
    params: z.object({ since: z.number().int().nonnegative() }).default({ since: 0 }),
  }),
  /** The spec file was changed by `up` or `scale`: read it again and converge. */
  z.object({ method: z.literal("apply") }),
  /** The database instances, for the controller. */
  z.object({ method: z.literal("instances") }),
  /** Route mysql-primary to the recorded primary now. */
  z.object({ method: z.literal("route") }),
  /** Kill a database pod's server and hold it down until released (the controller's fence). */
  z.object({ method: z.literal("fence"), params: z.object({ pod }) }),
  z.object({ method: z.literal("release"), params: z.object({ pod }) }),
  /** Stop a database pod's server gracefully and start it with the configuration wanted now. */
  z.object({ method: z.literal("restart"), params: z.object({ pod }) }),
  /** Throw a replica's data away and clone it again. */
  z.object({
    method: z.literal("reclone"),
    params: z.object({
      pod,
      reason: z
        .string()
        .max(2000)
        .default("requested")
        .transform((reason) => reason || "requested"),
    }),
  }),
  z.object({ method: z.literal("shutdown") }),
  /** Leave the processes running for a successor to adopt. */
  z.object({ method: z.literal("handover") }),
]);

export type SupervisorRequest = z.infer<typeof supervisorRequestSchema>;

/** A request off the socket as the handler may use it; a bad one is an InputError saying what is wrong. */
export function parseSupervisorRequest(request: RpcRequest): SupervisorRequest {
  const parsed = supervisorRequestSchema.safeParse(request);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue?.path.length ? ` (${issue.path.join(".")})` : "";
  throw new InputError(
    `the supervisor refuses request '${String(request.method)}'${where}: ${issue?.message ?? "does not fit"}`,
  );
}

/** What the supervisor does for each request; the dispatch below only routes and shapes answers. */
export interface SupervisorOperations {
  status(): Promise<SiteStatus>;
  progressSince(seq: number): ProgressEvent[];
  /** Reads the spec again; resolves with the sequence number of the last progress event. */
  apply(): Promise<number>;
  instances(): Promise<DatabaseInstance[]>;
  /** Routes mysql-primary to the recorded primary; resolves with its name. */
  route(): Promise<string | null>;
  fence(pod: string): Promise<void>;
  release(pod: string): Promise<void>;
  restart(pod: string): Promise<void>;
  reclone(pod: string, reason: string): Promise<void>;
  /** Stop (or leave for a successor) once the answer is sent. */
  shutdown(): void;
  handOver(): void;
}

/** The answer to one request off the socket: checked against its schema, then done. */
export async function answerSupervisorRequest(
  raw: RpcRequest,
  operations: SupervisorOperations,
): Promise<unknown> {
  const request = parseSupervisorRequest(raw);
  switch (request.method) {
    case "status":
      return operations.status();
    case "progress":
      return { events: operations.progressSince(request.params.since), status: await operations.status() };
    case "apply":
      return { seq: await operations.apply() };
    case "instances":
      return operations.instances();
    case "route":
      return { routed: await operations.route() };
    case "fence":
      await operations.fence(request.params.pod);
      return { fenced: request.params.pod };
    case "release":
      await operations.release(request.params.pod);
      return { released: request.params.pod };
    case "restart":
      await operations.restart(request.params.pod);
      return { restarting: request.params.pod };
    case "reclone":
      await operations.reclone(request.params.pod, request.params.reason);
      return { recloning: request.params.pod };
    case "shutdown":
      operations.shutdown();
      return { stopping: true, pid: process.pid };
    case "handover":
      operations.handOver();
      return { leaving: true, pid: process.pid };
  }
}
