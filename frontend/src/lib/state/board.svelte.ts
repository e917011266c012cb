// The board: repos, the selected repo's cards and their current jobs, kept in sync by board events.
import {
  api,
  type CardCreate,
  type CardRead,
  type CardStatus,
  type CardUpdate,
  type JobRead,
  type RepoRead,
  type RepoUpdate,
  type RunRead,
  type StartChoice,
  type TransitionTableRead,
} from '../api';
import { ApiError } from '../api/client';
import type { BoardEvent } from '../live/events';
import { COLUMNS, type Drop, dropAction, groupByStatus, matches, moveLocally, upsert } from './cards';
import { ConflictState } from './conflicts.svelte';
import { GitHubState } from './github.svelte';
import { LearningsState } from './learnings.svelte';
import { newerRun } from './runs';
import { handleError, toasts } from './toasts.svelte';
import { WorkflowState } from './workflows.svelte';

const REPO_KEY = 'lazyaf.repo';
/** Cards per column on the first screen (a column renders 30 at a time). */
const FIRST_PAGE = 60;

type FirstScreen = { cards: CardRead[]; jobs: JobRead[]; runs: RunRead[]; totals: Record<CardStatus, number> | null };
/** Where a card picked up with the keyboard would land: column `to`, `index` among its shown cards. */
export type Preview = { id: string; to: CardStatus; index: number };
export type CardAction = 'start' | 'approve' | 'reject' | 'retry' | 'requestChanges' | 'cancel';

export class BoardState {
  repos = $state.raw<RepoRead[]>([]);
  repoId = $state<string | null>(null);
  cards = $state.raw<CardRead[]>([]);
  /** The current job of each card, by card id. */
  jobs = $state.raw<Record<string, JobRead>>({});
  /** The latest run of each card that has one, by card id (the tiles' steps strips). */
  runs = $state.raw<Record<string, RunRead>>({});
  loading = $state(true);
  loadError = $state<string | null>(null);
  /**
   * Each column's size on the server while the board holds only part of it (a big board loads a
   * page per column, the next page as the user scrolls, and asks the server when searching);
   * null when every card is here.
   */
  totals = $state.raw<Record<CardStatus, number> | null>(null);
  query = $state('');
  priority = $state<number | null>(null);
  /** The server wants a token (a client off loopback without one, or a wrong one). */
  needsToken = $state(false);
  /** The card whose modal is open. */
  openCardId = $state<string | null>(null);
  /** The server's card moves: what a drop does and, for each it cannot, the sentence to show. */
  moves = $state.raw<TransitionTableRead | null>(null);
  /** The selected repo's GitHub link. */
  readonly github = new GitHubState();
  /** A repo's learnings (loaded when the repo settings show them). */
  readonly learnings = new LearningsState();
  /** The selected repo's predicted collisions between cards. */
  readonly conflicts = new ConflictState();
  /** The workflows the selected repo's cards can run, and its default. */
  readonly workflows = new WorkflowState();

  repo = $derived(this.repos.find((r) => r.id === this.repoId) ?? null);
  /** A search or the priority filter narrows the board. */
  filtering = $derived(this.query !== '' || this.priority !== null);
  visible = $derived(this.filtering ? this.cards.filter((c) => matches(c, this.query, this.priority)) : this.cards);
  /** A card held by a keyboard drag, shown where it would land until it is dropped or put back. */
  preview = $state.raw<Preview | null>(null);
  columns = $derived(groupByStatus(this.preview ? moveLocally(this.visible, this.preview.id, this.preview.to, this.preview.index) : this.visible));
  /** The server is still being asked for search hits the board has not loaded. */
  searching = $state(false);
  /** A search or filter that leaves no card on the board. */
  noHits = $derived(this.filtering && !this.searching && !this.loading && this.visible.length === 0 && this.cards.length > 0);
  openCard = $derived(this.cards.find((c) => c.id === this.openCardId) ?? null);
  #loadToken = 0;

  /** Load repos, pick one (saved choice, else the first), and load its cards. */
  load = async (): Promise<void> => {
    // The repo shown last time: fetch its cards alongside the repo list instead of after it.
    const guess = this.repoId ?? readSaved();
    const early = guess ? this.#fetchBoard(guess).catch(() => null) : null;
    const rules = this.moves ? null : this.#fetchMoves();
    try {
      this.repos = await api.repos.list();
      await rules;
      this.loadError = null;
    } catch (error) {
      this.needsToken = error instanceof ApiError && error.status === 401;
      this.loadError = handleError(error, 'Could not load repos');
      this.loading = false;
      return;
    }
    const choice = this.repos.find((r) => r.id === guess) ?? this.repos[0] ?? null;
    await this.selectRepo(choice?.id ?? null, choice && choice.id === guess ? early : null);
  };

  /**
   * A board's first screen: each column's first page and the current jobs, with the columns'
   * sizes. A board of thousands of cards is on screen at once; the rest comes page by page.
   */
  #fetchBoard = async (repoId: string): Promise<FirstScreen> => {
    const [pages, jobs, runs] = await Promise.all([
      Promise.all(COLUMNS.map((c) => api.cards.page(repoId, c.status, FIRST_PAGE))),
      api.cards.currentJobs(repoId),
      // The strips are extra: a board whose runs cannot be read still shows its cards.
      api.repos.currentRuns(repoId).catch(() => [] as RunRead[]),
    ]);
    const totals = Object.fromEntries(COLUMNS.map((c, i) => [c.status, pages[i].total])) as Record<CardStatus, number>;
    const complete = pages.every((p) => p.cards.length >= p.total);
    return { cards: pages.flatMap((p) => p.cards), jobs, runs, totals: complete ? null : totals };
  };

  #loadingMore = new Set<CardStatus>();

  /**
   * How many of column `status`'s cards the board holds from the top without a gap: the offset
   * of its next page (a search hit or a shared card further down does not count).
   */
  #loadedPrefix(status: CardStatus): number {
    const positions = this.cards.filter((c) => c.status === status).map((c) => c.position);
    const held = new Set(positions);
    let prefix = 0;
    while (held.has(prefix)) prefix += 1;
    return prefix;
  }

  /** Whether column `status` has cards on the server that the board does not hold yet. */
  hasMore = (status: CardStatus): boolean =>
    this.totals !== null && this.#loadedPrefix(status) < this.totals[status];

  /** The next page of column `status` (the one the user scrolled to the end of). */
  loadMore = async (status: CardStatus): Promise<void> => {
    const repoId = this.repoId;
    if (!repoId || !this.hasMore(status) || this.#loadingMore.has(status)) return;
    this.#loadingMore.add(status);
    const token = this.#loadToken;
    try {
      const page = await api.cards.page(repoId, status, FIRST_PAGE * 2, this.#loadedPrefix(status));
      if (token !== this.#loadToken) return;
      this.cards = mergeMore(this.cards, page.cards);
      if (this.totals) this.totals = { ...this.totals, [status]: page.total };
    } catch (error) {
      handleError(error, 'Could not load more cards');
    } finally {
      this.#loadingMore.delete(status);
    }
  };

  /** Open card `id` (a shared ?card= link): fetched first when a partly loaded board lacks it. */
  openById = async (id: string): Promise<void> => {
    this.openCardId = id;
    if (this.cards.some((c) => c.id === id)) return;
    try {
      const card = await api.cards.get(id);
      if (card.repo_id !== this.repoId) await this.selectRepo(card.repo_id);
      this.cards = mergeMore(this.cards, [card]);
    } catch (error) {
      this.openCardId = null;
      handleError(error, 'Could not open the card');
    }
  };

  #searchToken = 0;

  /** On a partly loaded board a search asks the server too, so it finds cards not loaded yet. */
  search = async (query: string): Promise<void> => {
    this.query = query;
    const repoId = this.repoId;
    const token = ++this.#searchToken;
    if (!repoId || this.totals === null || !query.trim()) {
      this.searching = false;
      return;
    }
    this.searching = true;
    await new Promise((resolve) => setTimeout(resolve, 250)); // typing: ask once it pauses
    if (token !== this.#searchToken) return;
    try {
      const found = await api.cards.search(repoId, query.trim(), 500);
      if (token !== this.#searchToken || repoId !== this.repoId) return;
      this.cards = mergeMore(this.cards, found);
    } catch (error) {
      handleError(error, 'Could not search the board');
    } finally {
      if (token === this.#searchToken) this.searching = false;
    }
  };

  selectRepo = async (
    id: string | null,
    prefetched: Promise<FirstScreen | null> | null = null,
  ): Promise<void> => {
    if (id !== this.repoId) {
      this.cards = [];
      this.jobs = {};
      this.runs = {};
    }
    void this.github.load(id);
    void this.conflicts.load(id);
    void this.workflows.load(id);
    this.repoId = id;
    if (id) writeSaved(id);
    if (!id) {
      this.loading = false;
      return;
    }
    const token = ++this.#loadToken;
    this.loading = true;
    try {
      const first = (await prefetched) ?? (await this.#fetchBoard(id));
      if (token !== this.#loadToken) return; // another repo was picked meanwhile
      this.cards = mergeLoaded(this.cards, first.cards, id);
      this.jobs = Object.fromEntries(first.jobs.map((j) => [j.card_id, j]));
      this.runs = Object.fromEntries(first.runs.map((r) => [r.card_id, r]));
      this.totals = first.totals;
      this.loadError = null;
    } catch (error) {
      if (token === this.#loadToken) this.loadError = handleError(error, 'Could not load the board');
    } finally {
      if (token === this.#loadToken) this.loading = false;
    }
  };

  /** The server's card moves; without them a drop goes to the server as it is (it says why not). */
  #fetchMoves = async (): Promise<void> => {
    try {
      this.moves = (await api.meta.transitions()).cards;
    } catch {
      this.moves = null;
    }
  };

  /** What dropping a card from `from` into `to` does (the server's rules), or why it cannot. */
  dropAction = (from: CardStatus, to: CardStatus): Drop => dropAction(this.moves, from, to);

  /** Apply one board event (from the live socket). */
  apply = (event: BoardEvent): void => {
    switch (event.type) {
      case 'card_updated': {
        const card = event.data.card;
        if (card.repo_id !== this.repoId) break;
        if (card.archived_at) this.#drop(card.id); // its GitHub issue was closed: off the board
        else this.#put(card);
        break;
      }
      case 'github_updated':
        this.github.apply(event);
        break;
      case 'learning_updated':
      case 'learning_deleted':
        this.learnings.apply(event);
      case 'card_conflicts':
        this.conflicts.apply(event);
        break;
      case 'card_deleted': {
        this.#drop(event.data.card_id);
        break;
      }
      case 'job_status': {
        const job = event.data.job;
        const held = this.jobs[job.card_id];
        if (this.cards.some((c) => c.id === job.card_id) && (!held || held.id === job.id || job.queued_at >= held.queued_at)) {
          this.jobs = { ...this.jobs, [job.card_id]: job };
        }
        break;
      }
      case 'run_updated': {
        const run = event.data.run;
        if (event.data.repo_id === this.repoId && newerRun(this.runs[run.card_id], run)) {
          this.runs = { ...this.runs, [run.card_id]: run };
        }
        break;
      }
      case 'repo_updated':
        this.workflows.apply(event);
        void this.reloadRepos();
        break;
      case 'repo_deleted':
        void this.reloadRepos();
        break;
    }
  };

  reloadRepos = async (): Promise<void> => {
    try {
      this.repos = await api.repos.list();
      if (this.repoId && !this.repos.some((r) => r.id === this.repoId)) await this.selectRepo(this.repos[0]?.id ?? null);
      else if (!this.repoId && this.repos.length) await this.selectRepo(this.repos[0].id);
    } catch (error) {
      handleError(error, 'Could not load repos');
    }
  };

  card = (id: string): CardRead | undefined => this.cards.find((c) => c.id === id);

  /** Show every card where it is (a drop that asks first, or was refused, puts the card back). */
  snapBack = (): void => {
    this.cards = this.cards.slice(); // a fresh array re-renders the columns
  };

  /** Save repo settings; true when the server took them. */
  updateRepo = async (id: string, change: RepoUpdate): Promise<boolean> => {
    try {
      const repo = await api.repos.update(id, change);
      this.repos = this.repos.map((r) => (r.id === id ? repo : r));
      return true;
    } catch (error) {
      handleError(error, 'Could not save the repo settings');
      return false;
    }
  };

  /** Delete a repo, its cards and its git repository; the board moves to another repo. */
  deleteRepo = async (id: string): Promise<boolean> => {
    try {
      await api.repos.remove(id);
      await this.reloadRepos();
      return true;
    } catch (error) {
      handleError(error, 'Could not delete the repo');
      return false;
    }
  };

  /** Drag or keyboard move: optimistic, snaps back with the reason when refused. */
  move = async (id: string, to: CardStatus, position: number): Promise<boolean> => {
    const card = this.cards.find((c) => c.id === id);
    if (!card) return false;
    const drop = this.dropAction(card.status, to);
    const before = this.cards;
    if ('refusal' in drop) {
      this.cards = before.slice(); // a fresh array re-renders the columns: the card snaps back
      toasts.show(drop.refusal, 'error');
      return false;
    }
    const action = drop.action;
    if (action === 'reorder' && card.position === position) return true;
    const totalsBefore = this.totals;
    this.cards = moveLocally(before, id, to, position);
    if (this.totals) this.totals = countMove(this.totals, card.status, to);
    try {
      if (action === 'approve') this.#put((await api.cards.approve(id, await this.#headOf(card))).card);
      else this.#put(await api.cards.update(id, { status: to, position }));
      return true;
    } catch (error) {
      this.cards = before;
      this.totals = totalsBefore;
      handleError(error, `Could not move “${card.title}”`);
      return false;
    }
  };

  /** A card leaves the board (deleted, or archived). */
  #drop(id: string): void {
    const gone = this.cards.find((c) => c.id === id);
    if (!gone) return;
    if (this.totals) this.totals = countMove(this.totals, gone.status, undefined);
    this.cards = this.cards.filter((c) => c !== gone);
    if (this.openCardId === gone.id) this.openCardId = null;
  }

  /** Take a newer copy of a card (from an event or an answer), keeping the column sizes right. */
  #put(card: CardRead): void {
    const held = this.cards.find((c) => c.id === card.id);
    const next = upsert(this.cards, card);
    if (next === this.cards) return; // the copy we hold is newer
    if (this.totals) this.totals = countMove(this.totals, held?.status, card.status);
    this.cards = next;
  }

  create = async (card: CardCreate): Promise<CardRead | null> => {
    if (!this.repoId) return null;
    try {
      const created = await api.cards.create(this.repoId, card);
      this.#put(created);
      return created;
    } catch (error) {
      handleError(error, 'Could not create the card');
      return null;
    }
  };

  update = async (id: string, change: CardUpdate): Promise<boolean> => {
    try {
      this.#put(await api.cards.update(id, change));
      return true;
    } catch (error) {
      handleError(error, 'Could not save the card');
      return false;
    }
  };

  remove = async (id: string): Promise<boolean> => {
    try {
      await api.cards.remove(id);
      this.cards = this.cards.filter((c) => c.id !== id);
      if (this.openCardId === id) this.openCardId = null;
      return true;
    } catch (error) {
      handleError(error, 'Could not delete the card');
      return false;
    }
  };

  /** The branch head the board shows for a card (its current job's): an approve sends it, so the
   * server merges that commit or nothing (409 when the branch has moved since). */
  async #headOf(card: CardRead | undefined): Promise<string | null> {
    if (!card?.job_id) return null;
    const held = this.jobs[card.id];
    const job = held?.id === card.job_id ? held : await api.jobs.get(card.job_id);
    return job.head_sha ?? null;
  }

  /**
   * Button actions with the same rules as dragging. `fresh` starts on a new branch from the
   * default branch, `workflow` and `review_plan` say what the start runs; `deleteBranch` rejects
   * and deletes the card's branch; `head` is the branch head the reviewer saw (approve).
   */
  act = async (
    id: string,
    action: CardAction,
    options: StartChoice & { deleteBranch?: boolean; head?: string | null } = {},
  ): Promise<boolean> => {
    const labels = {
      start: 'start',
      approve: 'approve',
      reject: 'reject',
      retry: 'retry',
      requestChanges: 'request changes on',
      cancel: 'cancel the job of',
    };
    const card = this.cards.find((c) => c.id === id);
    try {
      if (action === 'start') {
        const { fresh, workflow, review_plan } = options;
        const job = await api.cards.start(id, { fresh, workflow, review_plan });
        this.jobs = { ...this.jobs, [id]: job };
      } else if (action === 'approve') this.#put((await api.cards.approve(id, options.head ?? (await this.#headOf(card)))).card);
      else if (action === 'reject') this.#put(await api.cards.reject(id, options.deleteBranch));
      else if (action === 'retry' || action === 'requestChanges') {
        const queued = action === 'retry' ? await api.cards.retry(id) : await api.cards.requestChanges(id);
        this.#put(queued.card);
        this.jobs = { ...this.jobs, [id]: queued.job };
      } else if (action === 'cancel') {
        const jobId = card?.job_id;
        if (jobId) {
          const job = await api.jobs.cancel(jobId);
          this.jobs = { ...this.jobs, [id]: job };
        }
      }
      return true;
    } catch (error) {
      handleError(error, `Could not ${labels[action]} “${card?.title ?? 'the card'}”`);
      return false;
    }
  };
}

/**
 * The loaded cards of repo `repoId`, keeping a held copy that an event made newer while the load
 * was in flight, and a card created in the last seconds that the load did not see yet. Linear:
 * boards have thousands of cards.
 */
export function mergeLoaded(held: readonly CardRead[], loaded: CardRead[], repoId: string): CardRead[] {
  const mine = new Map(held.filter((c) => c.repo_id === repoId).map((c) => [c.id, c]));
  if (mine.size === 0) return loaded;
  const merged = loaded.map((card) => {
    const copy = mine.get(card.id);
    return copy && copy.updated_at > card.updated_at ? copy : card;
  });
  const seen = new Set(loaded.map((c) => c.id));
  const recent = Date.now() - 5000;
  for (const card of mine.values()) {
    if (!seen.has(card.id) && Date.parse(card.updated_at) > recent) merged.push(card);
  }
  return merged;
}

/** `held` plus the cards of `more` (a page, search hits) it lacks or holds an older copy of. */
export function mergeMore(held: readonly CardRead[], more: readonly CardRead[]): CardRead[] {
  const index = new Map(held.map((c, i) => [c.id, i]));
  const next = held.slice();
  for (const card of more) {
    const at = index.get(card.id);
    if (at === undefined) {
      index.set(card.id, next.length);
      next.push(card);
    } else if (next[at].updated_at < card.updated_at) next[at] = card;
  }
  return next;
}

/** Column sizes after a card left column `from` (if any) and entered column `to` (if any). */
export function countMove(
  totals: Record<CardStatus, number>,
  from: CardStatus | undefined,
  to: CardStatus | undefined,
): Record<CardStatus, number> {
  if (from === to) return totals;
  const next = { ...totals };
  if (from) next[from] = Math.max(0, next[from] - 1);
  if (to) next[to] += 1;
  return next;
}

function readSaved(): string | null {
  try {
    return new URLSearchParams(location.search).get('repo') ?? localStorage.getItem(REPO_KEY);
  } catch {
    return null;
  }
}

function writeSaved(id: string): void {
  try {
    localStorage.setItem(REPO_KEY, id);
  } catch {
    /* private mode: the choice is just not remembered */
  }
}
