import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseSpec } from "../../spec/load.js";
import { planTopology } from "../../topology/topology.js";
import {
  forceRouteCommands,
  heldAfter,
  loadBalancerShape,
  planLoadBalancer,
  renderHaproxyConfig,
  runtimeSwitchCommands,
  wordpressRuntimeCommands,
} from "./haproxy.js";
import { parseBackendQueues, parseInfoPid, parseShowStat } from "./haproxy-admin.js";

function backend(config: string, name: string): string[] {
  const start = config.indexOf(`\nbackend ${name}\n`);
  assert.ok(start >= 0, `backend ${name} missing`);
  const rest = config.slice(start).split("\n\n")[0] ?? "";
  return rest.split("\n").filter((line) => line.trim().startsWith("server "));
}

describe("load balancer config", () => {
  const topology = planTopology(parseSpec({}, "test"), "127.5.6");

  it("routes mysql-primary to the recorded primary only", () => {
    const config = renderHaproxyConfig({ topology, primary: "mysql-1", adminSocket: "/x/admin.sock" });
    assert.deepEqual(backend(config, "mysql-primary"), [
      "  server mysql-0 127.5.6.10:3306 check maxconn 240 disabled",
      "  server mysql-1 127.5.6.11:3306 check maxconn 240",
      "  server mysql-2 127.5.6.12:3306 check maxconn 240 disabled",
    ]);
  });

  it("balances reads over the replicas, not the primary", () => {
    const config = renderHaproxyConfig({ topology, primary: "mysql-1", adminSocket: "/x/admin.sock" });
    assert.deepEqual(backend(config, "mysql-replicas"), [
      "  server mysql-0 127.5.6.10:3306 check maxconn 240",
      "  server mysql-1 127.5.6.11:3306 check maxconn 240 disabled",
      "  server mysql-2 127.5.6.12:3306 check maxconn 240",
    ]);
  });

  it("reads from the primary when it is alone", () => {
    const single = planTopology(parseSpec({ database: { replicas: 1 } }, "test"), "127.5.6");
    const config = renderHaproxyConfig({
      topology: single,
      primary: "mysql-0",
      adminSocket: "/x/admin.sock",
    });
    assert.deepEqual(backend(config, "mysql-replicas"), [
      "  server mysql-0 127.5.6.10:3306 check maxconn 240",
    ]);
  });

  it("binds only loopback service addresses and keeps the admin socket private", () => {
    const config = renderHaproxyConfig({ topology, primary: "mysql-0", adminSocket: "/x/admin.sock" });
    const binds = config.split("\n").filter((l) => l.trim().startsWith("bind "));
    // The endpoints, the site, and HAProxy's Prometheus exporter on the site's metrics address.
    assert.deepEqual(binds, [
      "  bind 127.5.6.2:3306",
      "  bind 127.5.6.3:3306",
      "  bind 127.0.0.1:8080",
      "  bind 127.5.6.4:8405",
    ]);
    assert.match(config, /stats socket \/x\/admin.sock mode 600 level admin/);
  });

  it("switches the primary at run time: old one disabled and its sessions cut before the new one is enabled", () => {
    const commands = runtimeSwitchCommands(
      planLoadBalancer(topology, "mysql-0"),
      planLoadBalancer(topology, "mysql-1"),
    );
    assert.deepEqual(commands, [
      "disable server mysql-primary/mysql-0",
      "shutdown sessions server mysql-primary/mysql-0",
      "disable server mysql-replicas/mysql-1",
      "shutdown sessions server mysql-replicas/mysql-1",
      "enable server mysql-primary/mysql-1",
      "enable server mysql-replicas/mysql-0",
    ]);
    const same = runtimeSwitchCommands(
      planLoadBalancer(topology, "mysql-0"),
      planLoadBalancer(topology, "mysql-0"),
    );
    assert.deepEqual(same, []);
  });

  it("serves HTTP over health-checked WordPress pods, retrying failed idempotent requests elsewhere", () => {
    const config = renderHaproxyConfig({ topology, primary: "mysql-0", adminSocket: "/x/admin.sock" });
    assert.deepEqual(backend(config, "wordpress"), [
      "  server wordpress-0 127.5.6.50:8080 check",
      "  server wordpress-1 127.5.6.51:8080 check",
      "  server wordpress-2 127.5.6.52:8080 check",
    ]);
    assert.match(config, /http-check send meth GET uri \/hapress-alive/);
    assert.match(config, /retry-on conn-failure empty-response response-timeout 502 503 504/);
    assert.match(config, /option redispatch/);
    assert.match(config, /http-request disable-l7-retry unless METH_GET \|\| METH_HEAD/);
    const noWordpress = planTopology(parseSpec({ wordpress: { replicas: 0 } }, "test"), "127.5.6");
    assert.doesNotMatch(
      renderHaproxyConfig({ topology: noWordpress, primary: "mysql-0", adminSocket: "/x" }),
      /frontend http/,
    );
  });

  it("asks for a restart when the set of servers changes", () => {
    const smaller = planTopology(parseSpec({ database: { replicas: 2 } }, "test"), "127.5.6");
    assert.equal(
      runtimeSwitchCommands(planLoadBalancer(topology, "mysql-0"), planLoadBalancer(smaller, "mysql-0")),
      null,
    );
  });
});

describe("HAProxy stats", () => {
  it("reads server states from show stat", () => {
    const csv = [
      "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight",
      "mysql-primary,FRONTEND,,,0,0,4096,0,0,0,0,0,0,,,,,OPEN,",
      "mysql-primary,mysql-0,0,0,3,5,,0,0,0,,0,,0,0,0,0,UP,1",
      "mysql-primary,BACKEND,0,0,3,5,410,0,0,0,0,0,,0,0,0,0,UP,1",
      "mysql-replicas,mysql-1,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN,1",
      "",
    ].join("\n");
    assert.deepEqual(parseShowStat(csv), [
      { backend: "mysql-primary", server: "mysql-0", status: "UP", sessions: 3 },
      { backend: "mysql-replicas", server: "mysql-1", status: "DOWN", sessions: 0 },
    ]);
  });

  it("reads each backend's queue from show stat", () => {
    const csv = [
      "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight",
      "mysql-primary,FRONTEND,,,21,21,4096,21,0,0,0,0,0,,,,,OPEN,",
      "mysql-primary,mysql-0,0,0,20,20,20,20,0,0,,0,,0,0,0,0,UP,1",
      "mysql-primary,BACKEND,1,1,21,21,410,21,0,0,0,0,,0,0,0,0,UP,1",
      "mysql-replicas,BACKEND,0,0,0,0,410,0,0,0,0,0,,0,0,0,0,UP,1",
      "",
    ].join("\n");
    assert.deepEqual(
      parseBackendQueues(csv),
      new Map([
        ["mysql-primary", 1],
        ["mysql-replicas", 0],
      ]),
    );
  });
});

describe("database endpoint limits", () => {
  it("caps connections per server below max_connections and queues the rest for a bounded time", () => {
    const topology = planTopology(
      parseSpec({ database: { maxConnections: 100, endpoints: { queueTimeoutMs: 2500 } } }, "test"),
      "127.5.6",
    );
    const config = renderHaproxyConfig({ topology, primary: "mysql-0", adminSocket: "/x/admin.sock" });
    for (const name of ["mysql-primary", "mysql-replicas"]) {
      for (const line of backend(config, name)) assert.match(line, / maxconn 80( |$)/, `${name}: 80% of 100`);
    }
    assert.equal(config.match(/^ {2}timeout queue 2500ms$/gm)?.length, 2);
    assert.equal(
      config.match(/^ {2}option abortonclose$/gm)?.length,
      2,
      "clients gone while queued are dropped",
    );
  });

  it("refuses a per-server limit that would leave replication no slot", () => {
    assert.throws(
      () =>
        parseSpec(
          { database: { maxConnections: 50, endpoints: { maxConnectionsPerServer: 50 } } },
          "hapress.yaml",
        ),
      /database\.endpoints\.maxConnectionsPerServer.*must be below database\.maxConnections \(50\)/s,
    );
  });
});

describe("routing forced from an unknown state", () => {
  it("disables and cuts every server but the plan's, and enables those", () => {
    const topology = planTopology(parseSpec({ database: { replicas: 2 } }, "test"), "127.0.9");
    assert.deepEqual(forceRouteCommands(planLoadBalancer(topology, "mysql-1")), [
      "disable server mysql-primary/mysql-0",
      "shutdown sessions server mysql-primary/mysql-0",
      "disable server mysql-replicas/mysql-1",
      "shutdown sessions server mysql-replicas/mysql-1",
      "enable server mysql-primary/mysql-1",
      "enable server mysql-replicas/mysql-0",
    ]);
  });
});

describe("WordPress servers changed at run time", () => {
  const pod = (n: number) => ({ name: `wordpress-${n}`, address: `127.5.6.${50 + n}`, port: 8080 });
  const held = (n: number, enabled = true) => ({ ...pod(n), enabled });

  it("adds new servers down until their check passes, leaves enabled ones alone, disables removed ones", () => {
    assert.deepEqual(wordpressRuntimeCommands([held(0), held(1)], [pod(0), pod(1), pod(2)]), [
      "add server wordpress/wordpress-2 127.5.6.52:8080 check inter 1s fall 1 rise 1",
      "enable health wordpress/wordpress-2",
      "set server wordpress/wordpress-2 health down",
      "enable server wordpress/wordpress-2",
    ]);
    assert.deepEqual(wordpressRuntimeCommands([held(0), held(1), held(2)], [pod(0)]), [
      "disable server wordpress/wordpress-1",
      "disable server wordpress/wordpress-2",
    ]);
  });

  it("re-enables a removed server (kept in maintenance) down until its check passes", () => {
    const present = heldAfter([held(0), held(1)], [pod(0)]);
    assert.deepEqual(present, [held(0), held(1, false)]);
    assert.deepEqual(wordpressRuntimeCommands(present, [pod(0), pod(1)]), [
      "set server wordpress/wordpress-1 health down",
      "enable server wordpress/wordpress-1",
    ]);
    assert.deepEqual(heldAfter(present, [pod(0), pod(1), pod(2)]), [held(0), held(1), held(2)]);
  });

  it("needs a restart when a server kept its name but moved", () => {
    assert.equal(wordpressRuntimeCommands([held(0)], [{ ...pod(0), port: 8081 }]), null);
  });

  it("the shape ignores WordPress server lines only", () => {
    const config = [
      "backend wordpress",
      "  server wordpress-0 127.5.6.50:8080 check",
      "  server mysql-0 x",
    ].join("\n");
    assert.equal(loadBalancerShape(config), ["backend wordpress", "  server mysql-0 x"].join("\n"));
  });
});

describe("parseInfoPid", () => {
  it("reads the answering worker's PID from `show info`", () => {
    assert.equal(parseInfoPid("Name: HAProxy\nVersion: 2.6.12\nPid: 4242\nUptime: 0d 0h00m01s\n"), 4242);
    assert.equal(parseInfoPid("Name: HAProxy\n"), null);
  });
});
