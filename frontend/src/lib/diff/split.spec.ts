import { describe, expect, it } from 'vitest';
import type { DiffLine, FileDiff } from '../api';
import { anchorKeys, commentLine, splitRows, startsCollapsed } from './split';

const ctx = (o: number, n: number, text = 'c'): DiffLine => ({ kind: 'context', old_line: o, new_line: n, text });
const del = (o: number, text = 'd'): DiffLine => ({ kind: 'delete', old_line: o, new_line: null, text });
const add = (n: number, text = 'a'): DiffLine => ({ kind: 'add', old_line: null, new_line: n, text });
const eof: DiffLine = { kind: 'no_newline', old_line: null, new_line: null, text: 'No newline at end of file' };

describe('splitRows', () => {
  it('puts context on both sides and pairs deletions with the additions after them', () => {
    const rows = splitRows([ctx(1, 1), del(2), del(3), add(2), ctx(4, 3)]);
    expect(rows.map((r) => [r.left?.old_line ?? null, r.right?.new_line ?? null])).toEqual([
      [1, 1],
      [2, 2],
      [3, null],
      [4, 3],
    ]);
  });

  it('lets extra additions face empty cells', () => {
    const rows = splitRows([add(1), add(2)]);
    expect(rows).toEqual([
      { left: null, right: add(1) },
      { left: null, right: add(2) },
    ]);
  });

  it('starts a new run when a deletion follows additions', () => {
    const rows = splitRows([del(1), add(1), del(2), add(2)]);
    expect(rows.map((r) => [r.left?.old_line, r.right?.new_line])).toEqual([
      [1, 1],
      [2, 2],
    ]);
  });

  it('keeps the no-newline marker on the side of the line before it', () => {
    const rows = splitRows([del(1, 'x'), eof, add(1, 'x'), eof]);
    expect(rows).toEqual([
      { left: del(1, 'x'), right: add(1, 'x') },
      { left: eof, right: eof },
    ]);
  });
});

describe('comment anchors', () => {
  it('uses the new line, or the old line of a deletion, like the backend', () => {
    expect(commentLine(add(7))).toBe(7);
    expect(commentLine(ctx(3, 4))).toBe(4);
    expect(commentLine(del(9))).toBe(9);
    expect(commentLine(eof)).toBeNull();
  });

  it('shows a comment under the new-side line with its number, else the deleted one', () => {
    const file: FileDiff = {
      path: 'a.ts', status: 'modified', additions: 1, deletions: 1, binary: false, too_large: false,
      old_mode: null, new_mode: null, old_path: null,
      hunks: [{ old_start: 1, old_lines: 3, new_start: 1, new_lines: 2, header: '', lines: [ctx(1, 1), del(2), add(2), del(3)] }],
    };
    const anchors = anchorKeys(file);
    expect(anchors.get(1)).toBe('0:0');
    expect(anchors.get(2)).toBe('0:2');
    expect(anchors.get(3)).toBe('0:3');
    expect(startsCollapsed(file)).toBe(false);
    expect(startsCollapsed({ ...file, binary: true })).toBe(true);
  });
});
