// The board events of WS /ws (backend/src/lazyaf/events/schemas.py documents them).
import type { CardRead, GitHubLinkRead, JobRead, RunnerRead, WaitingReason } from '../api';

export type AgentEvent = {
  kind: 'text' | 'thinking' | 'tool_call' | 'tool_result' | 'system' | 'error' | 'result' | string;
  subtype?: string | null;
  text?: string | null;
  tool?: string | null;
  tool_use_id?: string | null;
  input?: Record<string, unknown> | null;
  output?: string | null;
  is_error?: boolean | null;
  session_id?: string | null;
  model?: string | null;
  cost_usd?: number | null;
  input_tokens?: number | null;
  output_tokens?: number | null;
  duration_ms?: number | null;
  num_turns?: number | null;
  parent_tool_use_id?: string | null;
};

export type JobEventData = { job_id: string; card_id: string; attempt: number; seq: number; event: AgentEvent };

export type BoardEvent =
  | { type: 'card_updated'; seq: number; data: { card: CardRead } }
  | { type: 'card_deleted'; seq: number; data: { card_id: string; repo_id: string } }
  | { type: 'repo_updated'; seq: number; data: { repo_id: string } }
  | { type: 'repo_deleted'; seq: number; data: { repo_id: string } }
  | { type: 'job_status'; seq: number; data: { job: JobRead } }
  | { type: 'job_event'; seq: number; data: JobEventData }
  | { type: 'runner_status'; seq: number; data: { runner: RunnerRead } }
  | { type: 'runner_deleted'; seq: number; data: { runner_id: string } }
  | { type: 'github_updated'; seq: number; data: { repo_id: string; github: GitHubLinkRead | null } }
  // Why each queued job waits (the first 200 in dispatch order), by job id: replaces the last map.
  | { type: 'queue_updated'; seq: number; data: { waiting: Record<string, WaitingReason> } };

export type Frame = BoardEvent | { type: 'hello'; data: { seq: number } } | { type: 'resync'; data?: { seq?: number } };
