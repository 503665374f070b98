import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ObjectSerializer } from "@kubernetes/client-node/dist/serializer.js";
import { getSerializationType } from "@kubernetes/client-node/dist/util.js";
import { renderVariants, testSecrets } from "../../../test/helpers/render-variants.js";
import { parseSpec } from "../../spec/load.js";
import { asTypedModel } from "./apply.js";
import { renderManifests } from "./render.js";

/** The body `KubernetesObjectApi.patch` sends for an object: written through the model of its kind. */
function sentBody(object: { apiVersion: string; kind: string }): unknown {
  return JSON.parse(
    JSON.stringify(ObjectSerializer.serialize(object, getSerializationType(object.apiVersion, object.kind))),
  ) as unknown;
}

describe("what apply sends", () => {
  it("is every rendered object whole, for every spec variant: no field lost on the way to the API server", () => {
    for (const [variant, input] of Object.entries(renderVariants)) {
      for (const object of renderManifests(parseSpec(input, "test"), testSecrets)) {
        const rendered = JSON.parse(JSON.stringify(object)) as unknown;
        assert.deepEqual(
          sentBody(asTypedModel(object)),
          rendered,
          `${variant}: ${object.kind}/${object.metadata.name}`,
        );
      }
    }
  });

  it("sends the Prometheus Operator's kinds (unknown to the client library) whole", () => {
    const objects = renderManifests(
      parseSpec({ kubernetes: { monitoring: { podMonitor: true, prometheusRule: true } } }, "test"),
      testSecrets,
    ).filter((o) => o.apiVersion === "monitoring.coreos.com/v1");
    assert.equal(objects.length, 3);
    for (const object of objects)
      assert.deepEqual(sentBody(asTypedModel(object)), JSON.parse(JSON.stringify(object)) as unknown);
  });

  it("would lose a NetworkPolicy's sources without the typed model (the check above can fail)", () => {
    const policy = {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "p" },
      spec: { podSelector: {}, ingress: [{ from: [{ podSelector: {} }], ports: [{ port: 3306 }] }] },
    };
    assert.deepEqual(sentBody(policy), {
      ...policy,
      spec: { podSelector: {}, ingress: [{ ports: [{ port: 3306 }] }] },
    });
    assert.deepEqual(sentBody(asTypedModel(policy)), policy);
  });
});
