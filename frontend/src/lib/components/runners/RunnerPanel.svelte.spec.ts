import { cleanup, fireEvent, render, screen, within } from '@testing-library/svelte';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunnerRead } from '../../api';
import { BoardState } from '../../state/board.svelte';
import { APP_CONTEXT_KEY } from '../../state/context';
import { RunnerState } from '../../state/runners.svelte';
import RunnerPanel from './RunnerPanel.svelte';

beforeAll(() => {
  HTMLDialogElement.prototype.showModal ??= function (this: HTMLDialogElement) {
    this.open = true;
  };
  HTMLDialogElement.prototype.close ??= function (this: HTMLDialogElement) {
    this.open = false;
    this.dispatchEvent(new Event('close'));
  };
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const runner = (name: string, status: RunnerRead['status'], fields: Partial<RunnerRead> = {}): RunnerRead => ({
  id: `id-${name}`,
  name,
  kind: 'remote',
  status,
  current_job_id: null,
  container_id: null,
  agents: ['claude'],
  version: '0.1.0',
  last_heartbeat: '2026-01-01T00:00:00Z',
  created_at: '2026-01-01T00:00:00Z',
  pooled: false,
  restarts: 0,
  last_exit: null,
  last_exit_at: null,
  log_tail: null,
  restart_at: null,
  failed_at: null,
  ...fields,
});

function show(list: RunnerRead[], answers: Record<string, () => Response>) {
  const calls: string[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit = {}) => {
      const key = `${init.method ?? 'GET'} ${url}`;
      calls.push(key);
      return answers[key]?.() ?? new Response(JSON.stringify({ detail: 'Not found.' }), { status: 404 });
    }),
  );
  const runners = new RunnerState();
  runners.runners = list;
  runners.pool = { runners: list, local: 0, docker: 0, docker_available: false };
  const context = new Map([[APP_CONTEXT_KEY, { board: new BoardState(), runners, live: { status: 'live', unreachable: false } }]]);
  render(RunnerPanel, { context });
  return { runners, calls };
}

const json = (body: unknown, status = 200) => () => new Response(JSON.stringify(body), { status });

describe('RunnerPanel', () => {
  it('removes a stopped runner added by hand; a live one has no Remove', async () => {
    const { runners, calls } = show([runner('laptop', 'offline'), runner('desk', 'idle')], {
      'DELETE /api/runners/id-laptop': () => new Response(null, { status: 204 }),
    });
    expect(screen.queryByRole('button', { name: 'Remove runner desk' })).toBeNull();
    await fireEvent.click(screen.getByRole('button', { name: 'Remove runner laptop' }));
    await vi.waitFor(() => expect(runners.runners.map((r) => r.name)).toEqual(['desk']));
    expect(calls).toEqual(['DELETE /api/runners/id-laptop']);
    expect(screen.queryByText('laptop')).toBeNull();
  });

  it('keeps a runner the server will not remove, with its reason', async () => {
    const { runners } = show([runner('local-1', 'offline', { kind: 'local' })], {
      'DELETE /api/runners/id-local-1': json({ detail: "Runner 'local-1' belongs to the local pool; scale the pool down instead." }, 409),
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Remove runner local-1' }));
    const { toasts } = await import('../../state/toasts.svelte');
    await vi.waitFor(() => expect(toasts.items.at(-1)?.text).toContain('scale the pool down instead'));
    expect(runners.runners).toHaveLength(1);
  });

  it('shows a pool runner that kept crashing, its last output, and retries it by scaling again', async () => {
    const failed = runner('local-1', 'offline', {
      kind: 'local',
      pooled: true,
      restarts: 4,
      last_exit: 'exited with code 3',
      last_exit_at: '2026-01-01T00:01:00Z',
      log_tail: 'Traceback (most recent call last):\nboom: this runner cannot start',
      failed_at: '2026-01-01T00:01:00Z',
    });
    const healthy = { ...failed, status: 'idle' as const, failed_at: null, restarts: 5 };
    const { runners, calls } = show([failed], {
      'POST /api/runners/scale': json({ runners: [healthy], local: 1, docker: 0, docker_available: false, waiting: {} }),
    });
    runners.pool = { runners: [failed], local: 1, docker: 0, docker_available: false };
    const row = await screen.findByRole('listitem', { name: 'Runner local-1' });
    expect(within(row).getByText('failed')).toBeTruthy();
    expect(within(row).getByText('Kept crashing: the pool stopped restarting it.')).toBeTruthy();
    expect(within(row).getByText('restarted 4 times')).toBeTruthy();
    expect(within(row).getByText('last exit: exited with code 3')).toBeTruthy();
    expect(within(row).getByText(/boom: this runner cannot start/)).toBeTruthy();
    // A pool runner is the pool's: no Remove, but Retry.
    expect(within(row).queryByRole('button', { name: 'Remove runner local-1' })).toBeNull();
    await fireEvent.click(within(row).getByRole('button', { name: 'Retry runner local-1' }));
    await vi.waitFor(() => expect(runners.runners[0].status).toBe('idle'));
    expect(calls).toEqual(['POST /api/runners/scale']);
    expect(screen.queryByText('failed')).toBeNull();
  });

  it('counts down to the restart of a runner that exited', () => {
    const soon = new Date(Date.now() + 4_000).toISOString();
    show([runner('local-1', 'offline', { kind: 'local', pooled: true, last_exit: 'killed by SIGKILL', restart_at: soon })], {});
    const row = screen.getByRole('listitem', { name: 'Runner local-1' });
    expect(within(row).getByText('restarting')).toBeTruthy();
    expect(within(row).getByText(/^Restarting in [34] s…$/)).toBeTruthy();
    expect(within(row).getByText('last exit: killed by SIGKILL')).toBeTruthy();
  });

  it('takes the waiting reasons of queued jobs from queue_updated events, replacing the last ones', () => {
    const runners = new RunnerState();
    const reason = (message: string) => ({ code: 'busy' as const, message, ahead: 1, busy: 1, runners: 1, starting: [], failed: [] });
    runners.apply({ type: 'queue_updated', seq: 1, at: '2026-01-01T00:00:00Z', data: { waiting: { a: reason('waiting: 1 ahead, 1 runner busy') } } });
    expect(runners.reasonFor('a')?.message).toBe('waiting: 1 ahead, 1 runner busy');
    runners.apply({ type: 'queue_updated', seq: 2, at: '2026-01-01T00:00:00Z', data: { waiting: { b: reason('x') } } });
    expect(runners.reasonFor('a')).toBeNull();
    expect(runners.reasonFor(null)).toBeNull();
  });

  it('forgets a runner another board removed', () => {
    const runners = new RunnerState();
    runners.runners = [runner('laptop', 'offline'), runner('desk', 'idle')];
    runners.apply({ type: 'runner_deleted', seq: 1, at: '2026-01-01T00:00:00Z', data: { runner_id: 'id-laptop' } });
    expect(runners.runners.map((r) => r.name)).toEqual(['desk']);
  });

  it('adds a runner by hand with both commands, dialling the public URL the server names', async () => {
    const command = 'docker run -d --network host lazyaf-runner:latest --server https://lazyaf.example.com --name <runner-name>';
    show([], {
      'GET /api/health': json({ status: 'ok', version: '1', git_backend: 'git', database: 'sqlite', public_url: 'https://lazyaf.example.com' }),
      'GET /api/runners/docker-command': json({ command, notes: '' }),
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Add a runner by hand' }));
    const dialog = screen.getByRole('dialog', { name: 'Add a runner by hand' });
    const line = await within(dialog).findByLabelText('lazyaf runner command');
    await vi.waitFor(() => expect(line.textContent).toBe('lazyaf runner --server https://lazyaf.example.com --token <your-lazyaf-token>'));
    expect(within(dialog).getByLabelText('docker run command').textContent).toBe(command);
    expect(dialog.textContent).toContain('scripts/build-runner-image.sh');
    expect(dialog.textContent).not.toContain('127.0.0.1');
  });

  it('needs no token in the runner command on this machine', async () => {
    show([], {
      'GET /api/health': json({ status: 'ok', version: '1', git_backend: 'git', database: 'sqlite', public_url: 'http://127.0.0.1:8765' }),
      'GET /api/runners/docker-command': json({ command: 'docker run …', notes: '' }),
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Add a runner by hand' }));
    const line = await screen.findByLabelText('lazyaf runner command');
    await vi.waitFor(() => expect(line.textContent).toBe('lazyaf runner --server http://127.0.0.1:8765'));
  });
});
