import { z } from "zod";
import { readJsonFile, writeJsonFile } from "./files.js";

/**
 * fenced.json: the database pods the controller has fenced (killed) and wants kept down until it
 * releases them. On disk, not only in the supervisor's memory, so that a fence survives the
 * supervisor (a successor keeps the pod down) and can be made while no supervisor runs.
 */
const fencedSchema = z.array(z.string().regex(/^mysql-\d{1,4}$/)).max(10_000);

export async function readFenced(path: string): Promise<Set<string>> {
  return new Set((await readJsonFile(path, fencedSchema)) ?? []);
}

export async function writeFenced(path: string, pods: Set<string>): Promise<void> {
  await writeJsonFile(path, [...pods].sort());
}

/** Adds or removes one pod; returns whether the file changed. */
export async function setFenced(path: string, pod: string, fenced: boolean): Promise<boolean> {
  const pods = await readFenced(path);
  if (pods.has(pod) === fenced) return false;
  if (fenced) pods.add(pod);
  else pods.delete(pod);
  await writeFenced(path, pods);
  return true;
}
