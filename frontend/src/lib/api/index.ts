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
  runners: {
    list: () => get<PoolRead>('/api/runners'),
    scale: (kind: 'local' | 'docker', count: number) => post<PoolRead>('/api/runners/scale', { kind, count }),
    dockerCommand: () => get<DockerCommandRead>('/api/runners/docker-command'),
    remove: (id: string) => request<void>('DELETE', `/api/runners/${id}`),
  },
};
