// Test node only: a pod network on this machine. Each pod gets a network namespace with one end of a
// veth pair, the other end on a bridge that only this machine's test node uses. Pod addresses are
// those of our own test hosts in our own namespaces (Kubernetes refuses loopback addresses in
// EndpointSlices); nothing routes them anywhere else: no default route, no forwarding, no NAT.
import { execFileSync } from "node:child_process";

const BRIDGE = "hpk-br0";
/** The bridge's subnet: the host end is .1, pods get .10 upwards. */
const SUBNET = "10.244.213";

function ip(args: string[], allowFailure = false): void {
  try {
    execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
  } catch (error) {
    if (!allowFailure) throw new Error(`ip ${args.join(" ")} failed`, { cause: error });
  }
}

export class PodNetwork {
  private readonly used = new Map<string, number>();
  readonly hostAddress = `${SUBNET}.1`;

  /** Creates the bridge (removing one a crashed earlier run left behind). */
  setUp(): void {
    ip(["link", "del", BRIDGE], true);
    ip(["link", "add", BRIDGE, "type", "bridge"]);
    ip(["addr", "add", `${this.hostAddress}/24`, "dev", BRIDGE]);
    ip(["link", "set", BRIDGE, "up"]);
  }

  /** A namespace for one pod (keyed by its uid), with its address; returns the namespace name and IP. */
  add(uid: string): { netns: string; address: string } {
    const short = uid.replace(/-/g, "").slice(0, 8);
    const netns = `hpk-${short}`;
    let host = 10;
    const taken = new Set(this.used.values());
    while (taken.has(host) && host < 250) host++;
    if (host >= 250) throw new Error("the test pod network is full");
    this.used.set(uid, host);
    const address = `${SUBNET}.${host}`;
    const outside = `hpv${short.slice(0, 8)}`;
    const inside = `hpp${short.slice(0, 8)}`;
    ip(["netns", "del", netns], true);
    ip(["netns", "add", netns]);
    ip(["link", "add", outside, "type", "veth", "peer", "name", inside]);
    ip(["link", "set", inside, "netns", netns]);
    ip(["link", "set", outside, "master", BRIDGE]);
    ip(["link", "set", outside, "up"]);
    ip(["-n", netns, "link", "set", "lo", "up"]);
    ip(["-n", netns, "link", "set", inside, "name", "eth0"]);
    ip(["-n", netns, "addr", "add", `${address}/24`, "dev", "eth0"]);
    ip(["-n", netns, "link", "set", "eth0", "up"]);
    return { netns, address };
  }

  /** Removes a pod's namespace (its veth pair goes with it). */
  remove(uid: string, netns: string): void {
    ip(["netns", "del", netns], true);
    this.used.delete(uid);
  }

  tearDown(): void {
    ip(["link", "del", BRIDGE], true);
  }
}
