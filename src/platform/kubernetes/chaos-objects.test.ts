import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseSpec, parseSpecText } from "../../spec/load.js";
import { chaosRunnerObjects, partitionPolicy } from "./chaos-objects.js";
import { restrictedProblems } from "./render/pod-security.js";
import { ObjectSerializer } from "@kubernetes/client-node/dist/serializer.js";
import { getSerializationType } from "@kubernetes/client-node/dist/util.js";
import { asTypedModel } from "./apply.js";

const spec = parseSpec({ name: "blog" }, "test");
const objects = chaosRunnerObjects({
  site: "blog",
  namespace: "shop",
  image: "hapress.local/hapress:dev",
  specJson: JSON.stringify(spec),
  pod: "hapress-chaos-abc123",
  chaosArgs: ["--scenario", "primary-kill", "--runs", "1", "--emit-result"],
  deadlineSeconds: 900,
});
const find = (kind: string) => objects.find((o) => o.kind === kind);

describe("the chaos runner's objects", () => {
  it("a pod under the restricted profile, bounded, running the CLI on the spec it is given", () => {
    const pod = find("Pod");
    assert.ok(pod);
    assert.deepEqual(restrictedProblems(pod), []);
    const podSpec = pod.spec as {
      activeDeadlineSeconds: number;
      restartPolicy: string;
      containers: { args: string[] }[];
    };
    assert.equal(podSpec.activeDeadlineSeconds, 900);
    assert.equal(podSpec.restartPolicy, "Never");
    assert.deepEqual(podSpec.containers[0]?.args.slice(0, 5), [
      "--file",
      "/etc/hapress-chaos/hapress.yaml",
      "chaos",
      "--namespace",
      "shop",
    ]);
    // The spec travels as JSON and reads back as the same spec.
    const data = (find("ConfigMap") as unknown as { data: Record<string, string> }).data;
    assert.deepEqual(parseSpecText(data["hapress.yaml"] ?? "", "configmap"), spec);
  });

  it("every field reaches the API server through the client's typed model (a NetworkPolicy's `from` included)", () => {
    for (const object of [...objects, partitionPolicy("blog", "shop")]) {
      const sent = ObjectSerializer.serialize(
        asTypedModel(object),
        getSerializationType(object.apiVersion, object.kind),
      ) as unknown;
      assert.deepEqual(
        JSON.parse(JSON.stringify(sent)),
        JSON.parse(JSON.stringify(object)),
        object.metadata.name,
      );
    }
  });

  it("never managed by hapress: apply does not prune them, status does not list them", () => {
    for (const object of [...objects, partitionPolicy("blog", "shop")])
      assert.equal(object.metadata.labels?.["app.kubernetes.io/managed-by"], "hapress-chaos");
  });

  it("the Role reads only the site's Secret and deletes only the partition policy", () => {
    const rules = (
      find("Role") as unknown as {
        rules: { resources: string[]; resourceNames?: string[]; verbs: string[] }[];
      }
    ).rules;
    const secrets = rules.filter((r) => r.resources.includes("secrets"));
    assert.deepEqual(secrets, [
      { apiGroups: [""], resources: ["secrets"], resourceNames: ["hapress-credentials"], verbs: ["get"] },
    ]);
    const policyDelete = rules.find(
      (r) => r.resources.includes("networkpolicies") && r.verbs.includes("delete"),
    );
    assert.deepEqual(policyDelete?.resourceNames, ["hapress-chaos-partition"]);
    assert.ok(!rules.some((r) => r.verbs.includes("*") || r.resources.includes("*")));
  });

  it("the partition lets only WordPress and the runner reach the pod, and the pod reach nothing", () => {
    const policy = partitionPolicy("blog", "shop").spec as {
      podSelector: { matchLabels: Record<string, string> };
      policyTypes: string[];
      ingress: { from: { podSelector: { matchLabels: Record<string, string> } }[] }[];
      egress: unknown[];
    };
    assert.deepEqual(policy.podSelector.matchLabels, {
      "app.kubernetes.io/instance": "blog",
      "hapress.io/chaos-partition": "true",
    });
    assert.deepEqual(policy.policyTypes, ["Ingress", "Egress"]);
    assert.deepEqual(policy.egress, []);
    assert.deepEqual(
      policy.ingress.map((r) => r.from[0]?.podSelector.matchLabels),
      [
        { "app.kubernetes.io/instance": "blog", "app.kubernetes.io/component": "web" },
        { "app.kubernetes.io/name": "hapress-chaos", "app.kubernetes.io/instance": "blog" },
      ],
    );
  });
});
