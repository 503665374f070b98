import { stringify } from "yaml";
import type { K8sObject } from "./render.js";

const FIRST_KEYS = ["apiVersion", "kind", "metadata"];

function rank(key: string): number {
  const index = FIRST_KEYS.indexOf(key);
  return index < 0 ? FIRST_KEYS.length : index;
}

/** Sorts keys everywhere (apiVersion, kind and metadata first), so the output diffs cleanly. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== "object") return value;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries.map(([k, v]) => [k, sortKeys(v)]));
}

/** One object as a YAML document. */
export function toYaml(object: K8sObject): string {
  return stringify(sortKeys(object), { lineWidth: 0 });
}

/** Every object as one multi-document stream, ready for `kubectl apply -f -`. */
export function toYamlStream(objects: K8sObject[]): string {
  return objects.map((o) => `---\n${toYaml(o)}`).join("");
}

/** A stable file name per object, in apply order: `07-statefulset-mysql.yaml`. */
export function fileNameFor(object: K8sObject, index: number): string {
  return `${String(index + 1).padStart(2, "0")}-${object.kind.toLowerCase()}-${object.metadata.name}.yaml`;
}
