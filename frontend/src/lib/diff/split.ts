// Pure diff helpers: unified → side-by-side row pairing, comment anchors, file labels.
import type { DiffLine, FileDiff } from '../api';

/** One row of the side-by-side view; a side is null where the line does not exist. */
export type SplitRow = { left: DiffLine | null; right: DiffLine | null };

/**
 * Pair a hunk's lines for the side-by-side view: context lines sit on both sides; a run of
 * deletions is paired line by line with the run of additions that follows it; leftovers face
 * an empty cell. A "\ No newline" marker stays on the side of the line before it.
 */
export function splitRows(lines: readonly DiffLine[]): SplitRow[] {
  const rows: SplitRow[] = [];
  let deleted: DiffLine[] = [];
  let added: DiffLine[] = [];
  let previous: DiffLine['kind'] | null = null;
  const flush = () => {
    const count = Math.max(deleted.length, added.length);
    for (let i = 0; i < count; i++) rows.push({ left: deleted[i] ?? null, right: added[i] ?? null });
    deleted = [];
    added = [];
  };
  for (const line of lines) {
    if (line.kind === 'delete') {
      if (added.length) flush(); // a deletion after additions starts a new run
      deleted.push(line);
    } else if (line.kind === 'add') added.push(line);
    else if (line.kind === 'no_newline') {
      if (previous === 'delete') deleted.push(line);
      else if (previous === 'add') added.push(line);
      else {
        flush();
        rows.push({ left: line, right: line });
      }
      continue; // keep `previous` pointing at the real line
    } else {
      flush();
      rows.push({ left: line, right: line });
    }
    previous = line.kind;
  }
  flush();
  return rows;
}

/**
 * The `line` a review comment on this diff line carries. The backend reads it as the new-side
 * number, or the old-side number for a line that exists only on the old side (a deletion),
 * and matches the first line of the file's hunks with that number.
 */
export function commentLine(line: DiffLine): number | null {
  if (line.kind === 'no_newline') return null;
  return line.new_line ?? line.old_line;
}

/**
 * The one line of each file a comment at `number` is shown under: the line with that new-side
 * number, else the deleted line with that old-side number (keys are "hunk:line" indexes).
 */
export function anchorKeys(file: FileDiff): Map<number, string> {
  const anchors = new Map<number, string>();
  const deleted: [number, string][] = [];
  file.hunks.forEach((hunk, h) =>
    hunk.lines.forEach((line, l) => {
      if (line.new_line !== null && line.kind !== 'no_newline') {
        if (!anchors.has(line.new_line)) anchors.set(line.new_line, `${h}:${l}`);
      } else if (line.kind === 'delete' && line.old_line !== null) deleted.push([line.old_line, `${h}:${l}`]);
    }),
  );
  for (const [number, key] of deleted) if (!anchors.has(number)) anchors.set(number, key);
  return anchors;
}

export const STATUS_WORD: Record<FileDiff['status'], string> = {
  added: 'added',
  modified: 'modified',
  deleted: 'deleted',
  renamed: 'renamed',
  copied: 'copied',
  type_changed: 'type changed',
};

/** Number of lines in a file's hunks: how heavy it is to render. */
export function lineCount(file: FileDiff): number {
  let count = 0;
  for (const hunk of file.hunks) count += hunk.lines.length;
  return count;
}

/** Files this big start collapsed; the reviewer expands them on demand. */
export const LARGE_FILE_LINES = 400;

export function startsCollapsed(file: FileDiff): boolean {
  const lines = lineCount(file);
  return file.too_large || file.binary || lines > LARGE_FILE_LINES || (file.status === 'deleted' && lines > 40);
}
