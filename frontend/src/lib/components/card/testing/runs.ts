// Runs and workflows in the backend's shapes (GET /api/cards/{id}/runs, GET /api/workflows), for tests.
import type { RunRead, StepRead, WorkflowList } from '../../../api';
import { CARD_ID } from './fixtures';

let next = 0;
const id = () => `00000000-0000-4000-8000-${String(++next).padStart(12, '0')}`;

export function step(fields: Partial<StepRead> = {}): StepRead {
  return {
    id: id(),
    position: 0,
    kind: 'build',
    status: 'pending',
    job_id: null,
    attempts: 0,
    iteration: null,
    started_at: null,
    finished_at: null,
    agent: null,
    session_id: null,
    commits: null,
    files_changed: null,
    lines_added: null,
    lines_removed: null,
    cost_usd: null,
    input_tokens: null,
    output_tokens: null,
    error: null,
    verification: null,
    ...fields,
  };
}

/** A plan_build run: plan done, build running, verify pending (override any of it). */
export function planBuild(fields: Partial<RunRead> = {}, steps?: StepRead[]): RunRead {
  return {
    id: id(),
    card_id: CARD_ID,
    workflow: 'plan_build',
    status: 'running',
    review_plan: false,
    phase: 'build',
    created_at: '2026-11-22T10:00:00Z',
    started_at: '2026-11-22T10:00:00Z',
    finished_at: null,
    error: null,
    steps: steps ?? [
      step({
        position: 0, kind: 'plan', status: 'succeeded', job_id: 'job-plan', attempts: 1, agent: 'claude',
        session_id: 'sess-plan', started_at: '2026-11-22T10:00:01Z', finished_at: '2026-11-22T10:00:31Z',
        commits: 1, files_changed: 1, lines_added: 24, lines_removed: 0, cost_usd: 0.0421, input_tokens: 5100, output_tokens: 900,
      }),
      step({
        position: 1, kind: 'build', status: 'running', job_id: 'job-build', attempts: 1, agent: 'claude',
        started_at: '2026-11-22T10:00:32Z',
      }),
      step({ position: 2, kind: 'verify' }),
    ],
    ...fields,
  };
}

export const workflowList: WorkflowList = {
  default_workflow: 'build',
  problems: {},
  workflows: [
    { name: 'build', steps: ['build', 'verify'], description: 'Build the card, then run the checks.', source: 'builtin', alias_of: null, max_iterations: 10 },
    { name: 'plan_build', steps: ['plan', 'build', 'verify'], description: 'Plan, build, check.', source: 'builtin', alias_of: null, max_iterations: 10 },
    { name: 'test', steps: ['test', 'verify'], description: 'Add tests only.', source: 'builtin', alias_of: null, max_iterations: 10 },
  ],
};
