import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AgentsRead, RunnerRead } from '../../api';
import { AgentState, codeSpans } from '../../state/agents.svelte';
import { APP_CONTEXT_KEY } from '../../state/context';
import AgentBanner from './AgentBanner.svelte';

const SENTENCE =
  'Claude Code has no credential to run with: run `claude login` on this machine (LazyAF uses that login), ' +
  'or run `claude setup-token` and set CLAUDE_CODE_OAUTH_TOKEN to the token it prints.';

const agentsRead = (ready: boolean, foundOn: 'server' | 'runner' = 'server'): AgentsRead => ({
  default_agent: 'claude',
  agents: [
    {
      name: 'claude',
      default: true,
      ready,
      needs_credential: true,
      problem: ready ? null : SENTENCE,
      credential: ready
        ? { kind: 'claude_login', found_on: foundOn, runner: null, variable: null, path: null, expires_at: null, expired: false }
        : null,
    },
    { name: 'command', default: false, ready: false, needs_credential: false, credential: null, problem: 'Set it.' },
  ],
});

function serve(answers: AgentsRead[]) {
  const calls: string[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string) => {
      calls.push(url);
      const body = answers[Math.min(calls.length - 1, answers.length - 1)];
      return new Response(JSON.stringify(body), { status: 200 });
    }),
  );
  return calls;
}

const runnerEvent = (status: RunnerRead['status']) => ({
  type: 'runner_status' as const,
  seq: 1,
  at: '2026-01-01T00:00:00Z',
  data: {
    runner: {
      id: 'r', name: 'laptop', kind: 'remote', status, current_job_id: null, container_id: null,
      agents: ['claude'], version: null, last_heartbeat: '2026-01-01T00:00:00Z', created_at: '2026-01-01T00:00:00Z',
    } as RunnerRead,
  },
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe('AgentState', () => {
  it('holds the default agent and its problem, none once it can run', async () => {
    const calls = serve([agentsRead(false), agentsRead(true)]);
    const agents = new AgentState();
    await agents.load();
    expect(calls).toEqual(['/api/agents']);
    expect(agents.default?.name).toBe('claude');
    expect(agents.problem).toBe(SENTENCE);
    await agents.load();
    expect(agents.problem).toBeNull();
  });

  it('checks again when a runner comes or goes, only while it matters', async () => {
    const calls = serve([agentsRead(false)]);
    const agents = new AgentState();
    await agents.load();
    agents.apply(runnerEvent('idle'));
    await vi.waitFor(() => {
      expect(calls).toHaveLength(2);
      expect(agents.checking).toBe(false);
    });
    agents.apply(runnerEvent('busy')); // a job started: nothing about credentials changed
    agents.apply({ type: 'card_deleted', seq: 2, at: '2026-01-01T00:00:00Z', data: { card_id: 'c', repo_id: 'r' } });
    expect(calls).toHaveLength(2);

    const ready = serve([agentsRead(true, 'server')]);
    await agents.load();
    agents.apply(runnerEvent('offline')); // ready from this machine: a runner leaving changes nothing
    expect(ready).toHaveLength(1);
  });

  it('reads once more when asked while a read is on its way, and keeps what it knew on an error', async () => {
    const calls = serve([agentsRead(false), agentsRead(true)]);
    const agents = new AgentState();
    const first = agents.load();
    void agents.load();
    await first;
    expect(calls).toHaveLength(2);
    expect(agents.problem).toBeNull();

    vi.stubGlobal('fetch', vi.fn(async () => { throw new TypeError('Failed to fetch'); }));
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    await agents.load();
    expect(agents.problem).toBeNull();
    expect(agents.checking).toBe(false);
  });

  it('splits commands out of a sentence', () => {
    expect(codeSpans('run `claude login` here')).toEqual([
      { text: 'run ', code: false },
      { text: 'claude login', code: true },
      { text: ' here', code: false },
    ]);
  });
});

describe('AgentBanner', () => {
  function show(answers: AgentsRead[]) {
    const calls = serve(answers);
    const agents = new AgentState();
    render(AgentBanner, { context: new Map([[APP_CONTEXT_KEY, { agents }]]) });
    return { agents, calls };
  }

  it('shows the server sentence with its commands as code, and goes once a check finds a credential', async () => {
    const { agents, calls } = show([agentsRead(false), agentsRead(true)]);
    await agents.load();

    const banner = await screen.findByRole('alert', { name: 'Agent setup' });
    expect(banner.textContent?.replace(/\s+/g, ' ')).toContain(
      'Cards cannot start yet. ' + SENTENCE.replaceAll('`', ''),
    );
    expect([...banner.querySelectorAll('code')].map((c) => c.textContent)).toEqual(['claude login', 'claude setup-token']);

    await fireEvent.click(screen.getByRole('button', { name: 'Check again' }));
    await vi.waitFor(() => expect(screen.queryByRole('alert')).toBeNull());
    expect(calls).toHaveLength(2);
  });

  it('is not there while the default agent can run', async () => {
    const { agents } = show([agentsRead(true)]);
    await agents.load();
    expect(screen.queryByRole('alert')).toBeNull();
  });
});
