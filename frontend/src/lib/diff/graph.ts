// Lanes for the small git graph of the Commits tab: a pure function over commits, newest first.

export type GraphCommit = { sha: string; parents: readonly string[] };

/** A line segment inside one row, from column `from` to column `to`. */
export type Segment = [from: number, to: number];

export type GraphRow = {
  /** The column of the commit's dot. */
  lane: number;
  /** Segments from the top edge of the row to its middle (into the dot, or passing by). */
  top: Segment[];
  /** Segments from the middle of the row to its bottom edge (out of the dot, or passing by). */
  bottom: Segment[];
  /** The commit has a parent outside the list (the base): draw a stub down from the dot. */
  external: boolean;
  /** Columns in use by this row, for sizing the SVG. */
  width: number;
};

/**
 * Assign each commit a lane. A lane holds the sha it waits for; a commit takes the first lane
 * waiting for it (others waiting for it converge into it), or a free one. Its first parent then
 * takes its lane and further parents take the lane already waiting for them or a new one.
 * Parents outside the list (the branch's base) end the line.
 */
export function assignLanes(commits: readonly GraphCommit[]): GraphRow[] {
  const known = new Set(commits.map((c) => c.sha));
  let lanes: (string | null)[] = [];
  const rows: GraphRow[] = [];
  for (const commit of commits) {
    let lane = lanes.indexOf(commit.sha);
    if (lane === -1) {
      lane = lanes.indexOf(null);
      if (lane === -1) lane = lanes.length;
    }
    const top: Segment[] = [];
    lanes.forEach((waiting, column) => {
      if (waiting === commit.sha) top.push([column, lane]);
      else if (waiting !== null) top.push([column, column]);
    });
    const next = lanes.map((waiting) => (waiting === commit.sha ? null : waiting));
    while (next.length <= lane) next.push(null);
    const parents = commit.parents.filter((p) => known.has(p));
    const bottom: Segment[] = [];
    const fresh = new Set<number>();
    next[lane] = null;
    parents.forEach((parent, i) => {
      let column = next.indexOf(parent);
      if (column === -1) {
        column = i === 0 ? lane : next.indexOf(null);
        if (column === -1 || (i > 0 && column === lane)) column = next.length;
        next[column] = parent;
        fresh.add(column);
      }
      bottom.push([lane, column]);
    });
    next.forEach((waiting, column) => {
      if (waiting !== null && !fresh.has(column)) bottom.push([column, column]);
    });
    while (next.length && next[next.length - 1] === null) next.pop();
    const width = Math.max(lane + 1, lanes.length, next.length);
    rows.push({ lane, top, bottom, external: parents.length < commit.parents.length, width });
    lanes = next;
  }
  return rows;
}
