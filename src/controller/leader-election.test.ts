import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  LeaderElector,
  LeaseConflict,
  nextLeaseStep,
  type LeaseRecord,
  type LeaseStore,
  type LeaseWrite,
} from "./leader-election.js";

/** An in-memory store with the API server's compare-and-swap semantics; `down` makes it fail. */
class MemoryStore implements LeaseStore {
  record: LeaseRecord | null = null;
  private version = 0;
  down = false;

  read(): Promise<LeaseRecord | null> {
    if (this.down) return Promise.reject(new Error("connection refused"));
    return Promise.resolve(this.record && { ...this.record });
  }
  create(lease: LeaseWrite): Promise<LeaseRecord> {
    if (this.down) return Promise.reject(new Error("connection refused"));
    if (this.record) return Promise.reject(new LeaseConflict("exists"));
    this.record = { ...lease, version: String(++this.version) };
    return Promise.resolve({ ...this.record });
  }
  update(lease: LeaseWrite, version: string): Promise<LeaseRecord> {
    if (this.down) return Promise.reject(new Error("connection refused"));
    if (this.record?.version !== version) return Promise.reject(new LeaseConflict("changed"));
    this.record = { ...lease, version: String(++this.version) };
    return Promise.resolve({ ...this.record });
  }
}

const timing = { durationMs: 10_000, renewDeadlineMs: 6_000, retryMs: 1_000 };

function elector(store: LeaseStore, identity: string, clock: { now: number }): LeaderElector {
  return new LeaderElector({
    store,
    identity,
    timing,
    now: () => clock.now,
    sleep: () => Promise.resolve(),
    log: () => undefined,
  });
}

describe("nextLeaseStep", () => {
  const held = (holder: string | null): LeaseRecord => ({
    holder,
    renewTimeMs: holder ? 1 : null,
    durationMs: 10_000,
    transitions: 0,
    version: "1",
  });
  it("creates a missing lease, renews its own, takes a released or expired one, waits otherwise", () => {
    assert.equal(nextLeaseStep(null, "a", 0), "create");
    assert.equal(nextLeaseStep(held("a"), "a", 60_000), "renew");
    assert.equal(nextLeaseStep(held(null), "a", 0), "take-over");
    assert.equal(nextLeaseStep(held("b"), "a", 9_999), "wait");
    assert.equal(nextLeaseStep(held("b"), "a", 10_000), "take-over");
  });
});

describe("LeaderElector", () => {
  it("lets exactly one of two candidates lead, and the other take over only after the lease expires", async () => {
    const store = new MemoryStore();
    const clock = { now: 1_000_000 };
    const [a, b] = [elector(store, "a", clock), elector(store, "b", clock)];
    assert.equal(await a.tryOnce(), true);
    assert.equal(await b.tryOnce(), false);
    for (let step = 0; step < 20; step++) {
      clock.now += 1_000;
      await a.tryOnce();
      await b.tryOnce();
      assert.equal(a.isLeader() && b.isLeader(), false, `both lead at step ${step}`);
      assert.equal(a.isLeader(), true);
    }
    // a dies: b sees the same record unchanged and takes over once a whole duration has passed.
    let tookOverAfter = 0;
    for (let waited = 0; waited <= 20_000; waited += 1_000) {
      clock.now += 1_000;
      if (await b.tryOnce()) {
        tookOverAfter = waited + 1_000;
        break;
      }
    }
    assert.ok(
      tookOverAfter >= timing.durationMs && tookOverAfter <= timing.durationMs + 2_000,
      `${tookOverAfter}`,
    );
    assert.equal(store.record?.holder, "b");
    assert.equal(store.record?.transitions, 1);
    // a comes back: it sees b's lease and does not act.
    assert.equal(await a.tryOnce(), false);
    assert.equal(a.isLeader(), false);
  });

  it("stops leading at the renew deadline when it cannot renew, before the lease could expire", async () => {
    const store = new MemoryStore();
    const clock = { now: 5_000_000 };
    const a = elector(store, "a", clock);
    assert.equal(await a.tryOnce(), true);
    const renewedAt = clock.now;
    store.down = true;
    let stoppedAfter = -1;
    for (let t = 0; t <= 20_000; t += 500) {
      clock.now = renewedAt + t;
      await a.tryOnce();
      if (!a.isLeader()) {
        stoppedAfter = t;
        break;
      }
    }
    assert.equal(stoppedAfter, timing.renewDeadlineMs);
    assert.ok(stoppedAfter < timing.durationMs);
  });

  it("never lets two candidates write over each other: a stale version loses", async () => {
    const store = new MemoryStore();
    const clock = { now: 0 };
    const a = elector(store, "a", clock);
    await a.tryOnce();
    const stale = await store.read();
    await a.tryOnce();
    await assert.rejects(
      store.update({ holder: "b", renewTimeMs: 1, durationMs: 1, transitions: 1 }, stale?.version ?? ""),
      LeaseConflict,
    );
  });

  it("hands over at once when the leader releases the lease", async () => {
    const store = new MemoryStore();
    const clock = { now: 0 };
    const [a, b] = [elector(store, "a", clock), elector(store, "b", clock)];
    await a.tryOnce();
    assert.equal(await b.tryOnce(), false);
    await a.release();
    assert.equal(a.isLeader(), false);
    assert.equal(await b.tryOnce(), true);
  });
});
