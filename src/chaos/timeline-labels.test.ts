import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LABEL_CHAR_WIDTH, placeLabels } from "./timeline-labels.js";

describe("placeLabels", () => {
  it("keeps labels far apart in the first lane", () => {
    const placed = placeLabels(
      [
        { x: 10, label: "kill -9 mysql-0" },
        { x: 400, label: "whole again" },
      ],
      900,
    );
    assert.deepEqual(placed, [
      { lane: 0, anchor: "start" },
      { lane: 0, anchor: "start" },
    ]);
  });

  it("moves a label that would overlap one in a lane to the next lane, and back to the first when it is free", () => {
    const placed = placeLabels(
      [
        { x: 300, label: "SIGSTOP mysql-0" },
        { x: 320, label: "mysql-1 primary" },
        { x: 330, label: "whole again" },
        { x: 700, label: "SIGCONT mysql-0" },
      ],
      900,
    );
    assert.deepEqual(
      placed.map((p) => p.lane),
      [0, 1, 2, 0],
    );
  });

  it("ends a label at its mark when it would run past the right edge, and checks overlap on that side", () => {
    const label = "whole again";
    const placed = placeLabels(
      [
        { x: 860, label: "mysql-2 primary" },
        { x: 890, label },
      ],
      900,
    );
    assert.deepEqual(placed, [
      { lane: 0, anchor: "end" },
      { lane: 1, anchor: "end" },
    ]);
    assert.ok(890 - label.length * LABEL_CHAR_WIDTH > 0, "still inside on the left");
  });

  it("places nothing for no marks", () => {
    assert.deepEqual(placeLabels([], 900), []);
  });
});
