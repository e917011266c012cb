import { describe, expect, it } from 'vitest';
import { assignLanes } from './graph';

describe('assignLanes', () => {
  it('keeps a straight history in one lane, with a stub to the base', () => {
    const rows = assignLanes([
      { sha: 'c', parents: ['b'] },
      { sha: 'b', parents: ['a'] },
      { sha: 'a', parents: ['base'] },
    ]);
    expect(rows.map((r) => r.lane)).toEqual([0, 0, 0]);
    expect(rows[0].top).toEqual([]);
    expect(rows[0].bottom).toEqual([[0, 0]]);
    expect(rows[1].top).toEqual([[0, 0]]);
    expect(rows[2].bottom).toEqual([]);
    expect(rows[2].external).toBe(true);
    expect(rows.every((r) => r.width === 1)).toBe(true);
  });

  it('opens a lane for a merged branch and closes it where the lanes meet', () => {
    // m merges x (side branch) into b; both come from a.
    const rows = assignLanes([
      { sha: 'm', parents: ['b', 'x'] },
      { sha: 'x', parents: ['a'] },
      { sha: 'b', parents: ['a'] },
      { sha: 'a', parents: [] },
    ]);
    expect(rows.map((r) => r.lane)).toEqual([0, 1, 0, 1]);
    expect(rows[0].bottom).toEqual([
      [0, 0],
      [0, 1],
    ]);
    // x: lane 0 waits for b (passes by), x continues down to a in its own lane
    expect(rows[1].top).toEqual([
      [0, 0],
      [1, 1],
    ]);
    expect(rows[1].bottom).toEqual([
      [1, 1],
      [0, 0],
    ]);
    // b takes lane 0; its parent a is already awaited in lane 1: draw into it, keep lane 1
    expect(rows[2].bottom).toEqual([
      [0, 1],
      [1, 1],
    ]);
    // a: both lanes converge
    expect(rows[3].lane).toBe(1);
    expect(rows[3].top).toEqual([[1, 1]]);
    expect(rows[3].external).toBe(false);
  });

  it('gives unrelated heads their own lanes', () => {
    const rows = assignLanes([
      { sha: 'p', parents: [] },
      { sha: 'q', parents: [] },
    ]);
    expect(rows.map((r) => r.lane)).toEqual([0, 0]);
  });
});
