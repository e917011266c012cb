// Typed endpoint functions. Types come from schema.d.ts, generated from the backend's OpenAPI
// document (scripts/gen-api.sh); never edit those by hand.
import { request, requestWithHeaders, type Query } from './client';
import type { components } from './schema';

type S = components['schemas'];
export type RepoRead = S['RepoRead'];
export type RepoUpdate = S['RepoUpdate'];
export type BranchRead = S['BranchRead'];
export type CardRead = S['CardRead'];
export type CardDetailRead = S['CardDetailRead'];
export type WaitingReason = S['WaitingReason'];
export type CardCreate = S['CardCreate'];
export type CardUpdate = S['CardUpdate'];
export type CardStatus = S['CardStatus'];
export type JobRead = S['JobRead'];
export type JobStatus = S['JobStatus'];
export type JobEventRead = S['JobEventRead'];
export type JobLogPage = S['JobLogPage'];
export type RunnerRead = S['RunnerRead'];
export type RunnerKind = S['RunnerKind'];
export type PoolRead = S['PoolRead'];
export type DiffResult = S['DiffResult'];
export type FileDiff = S['FileDiff'];
export type Hunk = S['Hunk'];
export type DiffLine = S['DiffLine'];
export type CommitRead = S['CommitRead'];
export type CommentRead = S['CommentRead'];
export type CommentCreate = S['CommentCreate'];
export type TimelineRead = S['TimelineRead'];
export type TimelineEntry = S['TimelineEntry'];
export type DockerCommandRead = S['DockerCommandRead'];
export type JobQueuedRead = S['JobQueuedRead'];
export type ApproveRead = S['ApproveRead'];
export type HealthRead = S['HealthRead'];
export type TransitionsRead = S['TransitionsRead'];
export type TransitionTableRead = S['TransitionTableRead'];
export type GitHubLinkRead = S['GitHubLinkRead'];
export type GitHubLinkWrite = S['GitHubLinkWrite'];
export type SyncRule = S['SyncRule'];
export type SyncResult = S['SyncResult'];
export type VerifyRead = S['VerifyRead'];
export type PullRequestQueued = S['PullRequestQueued'];
export type AgentsRead = S['AgentsRead'];
export type AgentRead = S['AgentRead'];
export type LearningRead = S['LearningRead'];
export type LearningCreate = S['LearningCreate'];
export type LearningUpdate = S['LearningUpdate'];
export type LearningStatus = S['LearningStatus'];
export type LearningKind = S['LearningKind'];
export type LearningVerdict = S['LearningVerdict'];
export type CardLearningRead = S['CardLearningRead'];
export type CardLearningsRead = S['CardLearningsRead'];
export type CommentLearningCreate = S['CommentLearningCreate'];
export type ConflictRead = S['ConflictRead'];
export type RepoConflictsRead = S['RepoConflictsRead'];
export type MetricsRead = S['MetricsRead'];
export type DayMetrics = S['DayMetrics'];
export type Spread = S['Spread'];
export type HoldRead = S['HoldRead'];
export type LimitsRead = S['LimitsRead'];
export type LimitsUpdate = S['LimitsUpdate'];
export type LimitValues = S['LimitValues'];
export type RepoLimitsRead = S['RepoLimitsRead'];
export type RepoLimitsUpdate = S['RepoLimitsUpdate'];
export type QueueRead = S['QueueRead'];
export type QueueEntry = S['QueueEntry'];
export type RemoteVerifyRead = S['RemoteVerifyRead'];
export type RunRead = S['RunRead'];
export type StepRead = S['RunStepRead'];
export type StepStatus = S['StepStatus'];
export type WorkflowRead = S['WorkflowRead'];
export type WorkflowList = S['WorkflowList'];
/** How to start a card: on with its branch or fresh, which workflow, whether its plan waits for a review. */
export type StartChoice = { fresh?: boolean; workflow?: string | null; review_plan?: boolean };

const get = <T>(path: string, query?: Query) => request<T>('GET', path, { query });
const post = <T>(path: string, body?: unknown) => request<T>('POST', path, { body });

export const api = {
  health: () => get<HealthRead>('/api/health'),
  meta: {
    /** The server's state tables: which moves a drag makes, and the sentence for each it cannot. */
    transitions: () => get<TransitionsRead>('/api/meta/transitions'),
  },
  agents: {
    /** Each agent: whether some runner can run it, with which kind of credential, or what to do. */
    list: () => get<AgentsRead>('/api/agents'),
  },
  repos: {
    list: () => get<RepoRead[]>('/api/repos'),
    get: (id: string) => get<RepoRead>(`/api/repos/${id}`),
    update: (id: string, change: RepoUpdate) => request<RepoRead>('PATCH', `/api/repos/${id}`, { body: change }),
    remove: (id: string) => request<void>('DELETE', `/api/repos/${id}`),
    branches: (id: string) => get<BranchRead[]>(`/api/repos/${id}/branches`),
    /** Whether the repo's remote (or `remoteUrl`, before it is saved) answers git; nothing is saved. */
    verifyRemote: (id: string, remoteUrl?: string) =>
      post<RemoteVerifyRead>(`/api/repos/${id}/verify-remote`, remoteUrl ? { remote_url: remoteUrl } : undefined),
    /** The latest run of each of the repo's cards that has one (the tiles' steps strips). */
    currentRuns: (id: string) => get<RunRead[]>(`/api/repos/${id}/current-runs`),
  },
  workflows: {
    /** The workflows a card of the repo can run, and the repo's default. */
    list: (repoId: string) => get<WorkflowList>('/api/workflows', { repo: repoId }),
  },
  cards: {
    list: (repoId: string) => get<CardRead[]>(`/api/repos/${repoId}/cards`),
    /** The first `limit` cards of one column, and how many the column holds. */
    page: async (repoId: string, status: CardStatus, limit: number, offset = 0) => {
      const { body, headers } = await requestWithHeaders<CardRead[]>('GET', `/api/repos/${repoId}/cards`, {
        query: { status, limit, offset: offset || undefined },
      });
      return { cards: body, total: Number(headers.get('x-total-count') ?? body.length) };
    },
    /** Cards of every column whose title or description contains `q`. */
    search: (repoId: string, q: string, limit: number) =>
      get<CardRead[]>(`/api/repos/${repoId}/cards`, { q, limit }),
    currentJobs: (repoId: string) => get<JobRead[]>(`/api/repos/${repoId}/current-jobs`),
    get: (id: string) => get<CardDetailRead>(`/api/cards/${id}`),
    create: (repoId: string, card: CardCreate) => post<CardRead>(`/api/repos/${repoId}/cards`, card),
    update: (id: string, change: CardUpdate) => request<CardRead>('PATCH', `/api/cards/${id}`, { body: change }),
    remove: (id: string) => request<void>('DELETE', `/api/cards/${id}`),
    /**
     * Start a todo card: `fresh` on a new branch from the default branch (the old one stays in
     * git), `workflow` (the repo's default when absent), `review_plan` stops after the plan.
     */
    start: (id: string, choice: StartChoice = {}) => {
      const body = Object.fromEntries(Object.entries(choice).filter(([, v]) => v !== undefined && v !== null && v !== false));
      return post<JobRead>(`/api/cards/${id}/start`, Object.keys(body).length ? body : undefined);
    },
    /** The card's runs, newest first, with their steps. */
    runs: (id: string) => get<RunRead[]>(`/api/cards/${id}/runs`),
    retry: (id: string) => post<JobQueuedRead>(`/api/cards/${id}/retry`),
    /** Merge the card's branch, if it still points at `expectedHead` (the head the reviewer saw; 409 if not). */
    approve: (id: string, expectedHead: string | null) =>
      post<ApproveRead>(`/api/cards/${id}/approve`, expectedHead ? { expected_head: expectedHead } : {}),
    reject: (id: string, deleteBranch = false) => post<CardRead>(`/api/cards/${id}/reject`, { delete_branch: deleteBranch }),
    requestChanges: (id: string) => post<JobQueuedRead>(`/api/cards/${id}/request-changes`, {}),
    jobs: (id: string) => get<JobRead[]>(`/api/cards/${id}/jobs`),
    diff: (id: string, offset = 0, limit = 100) => get<DiffResult>(`/api/cards/${id}/diff`, { offset, limit }),
    commits: (id: string) => get<CommitRead[]>(`/api/cards/${id}/commits`),
    comments: (id: string) => get<CommentRead[]>(`/api/cards/${id}/comments`),
    comment: (id: string, comment: CommentCreate) => post<CommentRead>(`/api/cards/${id}/comments`, comment),
    timeline: (id: string) => get<TimelineRead>(`/api/cards/${id}/timeline`),
  },
  jobs: {
    get: (id: string) => get<JobRead>(`/api/jobs/${id}`),
    logs: (id: string, after = 0, limit = 1000) => get<JobLogPage>(`/api/jobs/${id}/logs`, { after, limit }),
    cancel: (id: string) => post<JobRead>(`/api/jobs/${id}/cancel`),
  },
  github: {
    /** The repo's GitHub link (404 when it has none): `has_token`, never the token. */
    get: (repoId: string) => get<GitHubLinkRead>(`/api/repos/${repoId}/github`),
    link: (repoId: string, body: GitHubLinkWrite) => request<GitHubLinkRead>('PUT', `/api/repos/${repoId}/github`, { body }),
    unlink: (repoId: string) => request<void>('DELETE', `/api/repos/${repoId}/github`),
    verify: (repoId: string) => post<VerifyRead>(`/api/repos/${repoId}/github/verify`),
    setRule: (repoId: string, rule: SyncRule) => request<GitHubLinkRead>('PUT', `/api/repos/${repoId}/github/sync`, { body: rule }),
    sync: (repoId: string) => post<SyncResult>(`/api/repos/${repoId}/github/sync/run`),
    automation: (repoId: string, enabled: boolean) => post<GitHubLinkRead>(`/api/repos/${repoId}/github/automation`, { enabled }),
    pullRequest: (cardId: string, draft = false) => post<PullRequestQueued>(`/api/cards/${cardId}/pull-request`, { draft }),
  },
  learnings: {
    /** The repo's learnings, most useful first (one status, or all). */
    list: (repoId: string, status?: LearningStatus) =>
      get<LearningRead[]>(`/api/repos/${repoId}/learnings`, status ? { status } : undefined),
    create: (repoId: string, body: LearningCreate) => post<LearningRead>(`/api/repos/${repoId}/learnings`, body),
    update: (id: string, change: LearningUpdate) => request<LearningRead>('PATCH', `/api/learnings/${id}`, { body: change }),
    remove: (id: string) => request<void>('DELETE', `/api/learnings/${id}`),
    /** What the card's agents were given (with the card's verdicts) and what they proposed. */
    ofCard: (cardId: string) => get<CardLearningsRead>(`/api/cards/${cardId}/learnings`),
    mark: (cardId: string, id: string, verdict: LearningVerdict | null) =>
      request<CardLearningRead>('PUT', `/api/cards/${cardId}/learnings/${id}/mark`, { body: { verdict } }),
    /** Keep a review comment as an accepted learning (about its file, unless `paths` says otherwise). */
    fromComment: (cardId: string, commentId: string, body: CommentLearningCreate) =>
      post<LearningRead>(`/api/cards/${cardId}/comments/${commentId}/learning`, body),
  },
  conflicts: {
    /** A card branch's predicted collisions with other cards' branches and the target, conflicts first. */
    ofCard: (cardId: string) => get<ConflictRead[]>(`/api/cards/${cardId}/conflicts`),
    /** Every card's predicted collisions in a repo, by card id. */
    ofRepo: (repoId: string) => get<RepoConflictsRead>(`/api/repos/${repoId}/conflicts`),
  },
  /** How the agents and the reviews did over the last `days` days of time zone `tz`; every repo without `repo`. */
  metrics: (query: { repo?: string | null; days: number; tz?: string | null }, signal?: AbortSignal) =>
    request<MetricsRead>('GET', '/api/metrics', { query, signal }),
  limits: {
    /** The global limits, today's spend and counts, and each repo with limits of its own or work today. */
    get: () => get<LimitsRead>('/api/limits'),
    /** Set any of the global limits (null: no limit; keys left out stay as they are). */
    put: (change: LimitsUpdate) => request<LimitsRead>('PUT', '/api/limits', { body: change }),
    repo: (repoId: string) => get<RepoLimitsRead>(`/api/repos/${repoId}/limits`),
    /** Set any of a repo's own limits (null: none of its own, the global default applies). */
    putRepo: (repoId: string, change: RepoLimitsUpdate) =>
      request<RepoLimitsRead>('PUT', `/api/repos/${repoId}/limits`, { body: change }),
  },
  /** Queued and held attempts in dispatch order with their reasons, and the queue's stats. */
  queue: (repoId?: string | null) => get<QueueRead>('/api/queue', { repo: repoId ?? undefined }),
  runners: {
    list: () => get<PoolRead>('/api/runners'),
    scale: (kind: 'local' | 'docker', count: number) => post<PoolRead>('/api/runners/scale', { kind, count }),
    dockerCommand: () => get<DockerCommandRead>('/api/runners/docker-command'),
    remove: (id: string) => request<void>('DELETE', `/api/runners/${id}`),
  },
};
