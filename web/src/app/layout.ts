// How the conversation windows share a wide screen (pure, so the rule is unit-tested): side by
// side in a grid while every window still gets a usable size, otherwise a list of conversations
// beside one focused window. Either way every conversation is reachable without scrolling the page.

/** The smallest window worth showing in a grid cell: narrower or shorter is hard to read. */
export const MIN_WINDOW_WIDTH = 320;
export const MIN_WINDOW_HEIGHT = 340;
/** The gap between grid cells, in CSS pixels (keep in step with `.windows` in styles.css). */
export const WINDOW_GAP = 12;

export type WindowLayout =
  | { mode: 'grid'; columns: number; rows: number }
  /** One window at a time, chosen in the conversation list beside it. */
  | { mode: 'focus' };

export interface LayoutArea {
  /** Conversation windows to place. */
  count: number;
  /** The inner size of the area the windows share, in CSS pixels. */
  width: number;
  height: number;
}

/**
 * The grid with the fewest rows whose cells are at least MIN_WINDOW_WIDTH x MIN_WINDOW_HEIGHT,
 * or the focus layout when no grid fits. An area not measured yet (0 x 0) gets a one-row grid, so
 * the first paint shows the windows rather than a list.
 */
export function planLayout({ count, width, height }: LayoutArea): WindowLayout {
  if (count <= 1) return { mode: 'grid', columns: 1, rows: 1 };
  if (width <= 0 || height <= 0) return { mode: 'grid', columns: count, rows: 1 };
  const fitting = Math.floor((width + WINDOW_GAP) / (MIN_WINDOW_WIDTH + WINDOW_GAP));
  const columns = Math.max(1, Math.min(count, fitting));
  const rows = Math.ceil(count / columns);
  if (rows * MIN_WINDOW_HEIGHT + (rows - 1) * WINDOW_GAP > height) return { mode: 'focus' };
  // The same number of rows with fewer columns leaves no hole in the last row where possible.
  return { mode: 'grid', columns: Math.ceil(count / rows), rows };
}
