// What the card modal reads about one card: diff (paged by file), comments, commits, timeline
// and jobs. Payloads are $state.raw and replaced; each tab loads its part on first show, and
// `refresh` reloads what was loaded (the card's job moved on, or its branch head did).
import {
  api,
  type CommentRead,
  type CommitRead,
  type DiffResult,
  type FileDiff,
  type JobRead,
  type TimelineEntry,
} from '../../api';
import { describeError, handleError } from '../../state/toasts.svelte';
import { startsCollapsed } from '../../diff/split';

export const DIFF_PAGE = 100;
const MAX_AUTO_FILES = 2000;
const VIEW_KEY = 'lazyaf.diffView';

export type DiffView = 'unified' | 'split';
export type CommentTarget = { file: string; line: number; key: string };

type Loadable<T> = { value: T | null; error: string | null; loading: boolean };
const empty = <T>(): Loadable<T> => ({ value: null, error: null, loading: false });

export class CardReview {
  readonly cardId: string;
  diff = $state.raw<Loadable<DiffResult>>(empty());
  files = $state.raw<FileDiff[]>([]);
  comments = $state.raw<CommentRead[]>([]);
  commits = $state.raw<Loadable<CommitRead[]>>(empty());
  timeline = $state.raw<Loadable<TimelineEntry[]>>(empty());
  jobs = $state.raw<JobRead[]>([]);
  /** Files the reviewer expanded or folded, by path (others follow startsCollapsed). */
  folded = $state.raw<Record<string, boolean>>({});
  view = $state<DiffView>(readView());
  /** The diff line whose comment form is open. */
  commentAt = $state<CommentTarget | null>(null);
  openComments = $derived(this.comments.filter((c) => !c.job_id));
  #wanted = new Set<'diff' | 'commits' | 'timeline' | 'jobs'>();
  #diffToken = 0;

  constructor(cardId: string) {
    this.cardId = cardId;
  }

  setView = (view: DiffView): void => {
    this.view = view;
    try {
      localStorage.setItem(VIEW_KEY, view);
    } catch {
      /* not remembered */
    }
  };

  isCollapsed = (file: FileDiff): boolean => this.folded[file.path] ?? startsCollapsed(file);

  toggleFile = (file: FileDiff): void => {
    this.folded = { ...this.folded, [file.path]: !this.isCollapsed(file) };
  };

  /** The diff, page after page of files (up to 2000 files; "load more" for the rest). */
  loadDiff = async (more = false): Promise<void> => {
    this.#wanted.add('diff');
    const token = ++this.#diffToken;
    const keep = more ? this.files : [];
    this.diff = { ...this.diff, loading: true };
    try {
      let files = keep;
      let offset = keep.length;
      let result: DiffResult;
      do {
        result = await api.cards.diff(this.cardId, offset, DIFF_PAGE);
        if (token !== this.#diffToken) return;
        files = offset === 0 ? result.files : [...files, ...result.files];
        offset = files.length;
        this.files = files;
        this.diff = { value: result, error: null, loading: offset < result.total_files };
      } while (offset < result.total_files && result.files.length > 0 && offset < (more ? Infinity : MAX_AUTO_FILES));
      this.diff = { value: result, error: null, loading: false };
    } catch (error) {
      if (token !== this.#diffToken) return;
      this.diff = { value: null, error: describeError(error), loading: false };
      this.files = [];
    }
    await this.loadComments();
  };

  loadComments = async (): Promise<void> => {
    try {
      this.comments = await api.cards.comments(this.cardId);
    } catch (error) {
      handleError(error, 'Could not load the comments');
    }
  };

  loadCommits = async (): Promise<void> => {
    this.#wanted.add('commits');
    this.commits = { ...this.commits, loading: true };
    try {
      this.commits = { value: await api.cards.commits(this.cardId), error: null, loading: false };
    } catch (error) {
      this.commits = { value: null, error: describeError(error), loading: false };
    }
  };

  loadTimeline = async (): Promise<void> => {
    this.#wanted.add('timeline');
    this.timeline = { ...this.timeline, loading: true };
    try {
      const read = await api.cards.timeline(this.cardId);
      this.timeline = { value: read.entries, error: null, loading: false };
    } catch (error) {
      this.timeline = { value: null, error: describeError(error), loading: false };
    }
  };

  loadJobs = async (): Promise<void> => {
    this.#wanted.add('jobs');
    try {
      this.jobs = await api.cards.jobs(this.cardId);
    } catch (error) {
      handleError(error, 'Could not load the jobs of the card');
    }
  };

  /** Reload whatever a tab has shown; the card's job or branch moved. */
  refresh = async (): Promise<void> => {
    const loads: Promise<void>[] = [];
    if (this.#wanted.has('diff')) loads.push(this.loadDiff());
    else loads.push(this.loadComments());
    if (this.#wanted.has('commits')) loads.push(this.loadCommits());
    if (this.#wanted.has('timeline')) loads.push(this.loadTimeline());
    if (this.#wanted.has('jobs')) loads.push(this.loadJobs());
    await Promise.all(loads);
  };

  /** Post a review comment on a diff line; true when stored. */
  addComment = async (body: string, file: string | null, line: number | null): Promise<boolean> => {
    try {
      const comment = await api.cards.comment(this.cardId, { body, file, line });
      this.comments = [...this.comments, comment];
      this.commentAt = null;
      return true;
    } catch (error) {
      handleError(error, 'Could not add the comment');
      return false;
    }
  };
}

function readView(): DiffView {
  try {
    return localStorage.getItem(VIEW_KEY) === 'split' ? 'split' : 'unified';
  } catch {
    return 'unified';
  }
}
