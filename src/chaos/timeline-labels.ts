/**
 * Where a timeline's mark labels go (pure): each label in the first lane under the chart where it
 * overlaps no label already there, so two marks close in time (a hang's "whole again" and the new
 * primary's name) never print over each other; a label that would run past the right edge ends at its
 * mark instead of starting there.
 */

export interface LabelPlacement {
  /** 0 is the lane nearest the chart. */
  lane: number;
  anchor: "start" | "end";
}

/**
 * Label widths are estimated, not measured (the report has no script): 11 px system-ui text averages
 * under 6 px a character, so 7 px leaves room for capitals and wide glyphs; the browser test measures
 * the real boxes.
 */
export const LABEL_CHAR_WIDTH = 7;
const LABEL_GAP = 8;

export function placeLabels(marks: readonly { x: number; label: string }[], width: number): LabelPlacement[] {
  const lanes: { from: number; to: number }[][] = [];
  return marks.map((mark) => {
    const textWidth = mark.label.length * LABEL_CHAR_WIDTH;
    const anchor = mark.x + textWidth > width ? "end" : "start";
    const from = anchor === "start" ? mark.x : mark.x - textWidth;
    const to = from + textWidth;
    const free = (spans: { from: number; to: number }[]) =>
      spans.every((span) => to + LABEL_GAP <= span.from || from >= span.to + LABEL_GAP);
    let lane = lanes.findIndex(free);
    if (lane < 0) lane = lanes.push([]) - 1;
    lanes[lane]?.push({ from, to });
    return { lane, anchor };
  });
}
