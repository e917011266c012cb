// What a hunk view (UnifiedHunk, SplitHunk) is given: one type for both.
import type { CommentRead, FileDiff, Hunk } from '../../api';
import type { CardReview } from './review.svelte';

export type HunkProps = {
  hunk: Hunk;
  /** The hunk's index in its file. */
  h: number;
  file: FileDiff;
  language: string | null;
  anchors: Map<number, string>;
  comments: Map<number, CommentRead[]>;
  review: CardReview;
};
