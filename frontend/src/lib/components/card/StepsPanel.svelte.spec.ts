import { cleanup, fireEvent, render, screen, within } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RunRead } from '../../api';
import type { BoardEvent } from '../../live/events';
import StepsPanel from './StepsPanel.svelte';
import Host from './testing/Host.svelte';
import { card, CARD_ID, event, fakeContext, logPage, stubFetch } from './testing/fixtures';
import { planBuild, step } from './testing/runs';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const logs: Record<string, ReturnType<typeof event>[]> = {
  'job-plan': [event(1, { kind: 'text', text: 'Writing docs/plans/add-a-greeting.md' })],
  'job-build': [event(1, { kind: 'text', text: 'Following the plan: editing main.py' })],
};

function show(runs: RunRead[]) {
  const fetch = stubFetch({
    [`GET /api/cards/${CARD_ID}/runs`]: () => runs,
    'GET /api/jobs/': (url) => {
      const jobId = url.pathname.split('/')[3];
      return logPage(Number(url.searchParams.get('after')) ? [] : (logs[jobId] ?? []));
    },
  });
  const { context, emit } = fakeContext();
  render(Host, { props: { component: StepsPanel, props: { card, active: true }, context } });
  return { emit, fetch };
}

const rowOf = (name: string) => screen.getByRole('button', { name }).closest('tr') as HTMLElement;

describe('the Steps tab', () => {
  it('shows each step with its status, time, agent, changes, cost and tokens', async () => {
    show([planBuild()]);
    expect(await screen.findByRole('table', { name: 'Steps of the plan_build run' })).toBeTruthy();
    expect(screen.getByText('plan → build → verify')).toBeTruthy();
    const plan = within(rowOf('plan'));
    expect(plan.getByText('done')).toBeTruthy();
    expect(plan.getByText('30.0s')).toBeTruthy();
    expect(plan.getByText('claude')).toBeTruthy();
    expect(rowOf('plan').textContent).toContain('1 commit · 1 file');
    expect(plan.getByText('+24')).toBeTruthy();
    expect(plan.getByText('$0.04')).toBeTruthy();
    expect(plan.getByText('5,100 / 900')).toBeTruthy();
    expect(within(rowOf('build')).getByText('running')).toBeTruthy();
    const verify = within(rowOf('verify'));
    expect(verify.getByText('pending')).toBeTruthy();
    expect(verify.getByText('checks')).toBeTruthy(); // a harness step: no agent
  });

  it('shows the running step’s slice of the log, and another step’s when picked', async () => {
    show([planBuild()]);
    const build = await screen.findByRole('region', { name: 'Log of the build step' });
    expect(await within(build).findByText('Following the plan: editing main.py')).toBeTruthy();
    expect(await within(build).findByText('1 event')).toBeTruthy();
    expect(screen.getByRole('button', { name: 'build' }).getAttribute('aria-pressed')).toBe('true');
    await fireEvent.click(screen.getByRole('button', { name: 'plan' }));
    const plan = await screen.findByRole('region', { name: 'Log of the plan step' });
    expect(await within(plan).findByText('Writing docs/plans/add-a-greeting.md')).toBeTruthy();
    expect(within(plan).queryByText('Following the plan: editing main.py')).toBeNull();
    await fireEvent.click(screen.getByRole('button', { name: 'verify' }));
    expect(await screen.findByText('This step has not started: its log appears here once it runs.')).toBeTruthy();
  });

  it('follows the run live: a failed step shows why', async () => {
    const run = planBuild();
    const { emit } = show([run]);
    await screen.findByRole('table');
    const failed: RunRead = {
      ...run,
      status: 'failed',
      phase: null,
      error: 'Verification failed: test (`pytest`) exited with code 1.',
      steps: run.steps.map((s) =>
        s.kind === 'verify'
          ? {
              ...s,
              status: 'failed',
              job_id: 'job-verify',
              attempts: 1,
              error: 'Verification failed: test (`pytest`) exited with code 1.',
              verification: [{ name: 'test', command: 'pytest', exit_code: 1, duration_ms: 1200, output: 'E assert 1 == 2' }],
            }
          : s.kind === 'build'
            ? { ...s, status: 'succeeded' }
            : s,
      ),
    };
    emit({ seq: 9, at: '', type: 'run_updated', data: { repo_id: card.repo_id, run: failed } } as unknown as BoardEvent);
    expect(await within(rowOf('verify')).findByText('failed')).toBeTruthy();
    expect(screen.getAllByText('Verification failed: test (`pytest`) exited with code 1.').length).toBe(2); // the run's and the step's
    await fireEvent.click(screen.getByRole('button', { name: 'verify' }));
    const checks = await screen.findByRole('list', { name: 'Checks' });
    expect(checks.textContent).toContain('test');
    expect(checks.textContent).toContain('exited 1');
    // Another card's run changes nothing here.
    const elsewhere = { ...failed, card_id: 'other', steps: failed.steps.map((s) => ({ ...s, status: 'pending' as const })) };
    emit({ seq: 10, at: '', type: 'run_updated', data: { repo_id: card.repo_id, run: elsewhere } } as unknown as BoardEvent);
    await Promise.resolve();
    expect(within(rowOf('verify')).getByText('failed')).toBeTruthy();
    expect(within(rowOf('verify')).queryByText('pending')).toBeNull();
  });

  it('picks an earlier run of the card', async () => {
    const latest = planBuild({ started_at: '2026-11-23T10:00:00Z' });
    const earlier = planBuild({ workflow: 'build', status: 'succeeded', phase: null, started_at: '2026-11-22T09:00:00Z' }, [
      step({ kind: 'build', status: 'succeeded', job_id: 'job-old', attempts: 1 }),
      step({ position: 1, kind: 'verify', status: 'succeeded', job_id: 'job-old-verify', attempts: 1 }),
    ]);
    show([latest, earlier]);
    const picker = (await screen.findByLabelText('Run')) as HTMLSelectElement;
    expect(picker.value).toBe(latest.id);
    await fireEvent.change(picker, { target: { value: earlier.id } });
    expect(await screen.findByRole('table', { name: 'Steps of the build run' })).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'plan' })).toBeNull();
  });

  it('says there is no run before the card starts', async () => {
    show([]);
    expect(await screen.findByText('No run yet: once the card is started, its workflow’s steps appear here.')).toBeTruthy();
  });
});
