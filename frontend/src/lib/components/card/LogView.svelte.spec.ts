import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { JobLog } from '../../logs/joblog.svelte';
import LogsPanel from './LogsPanel.svelte';
import LogView from './LogView.svelte';
import { CardReview } from './review.svelte';
import Host from './testing/Host.svelte';
import { card, CARD_ID, event, fakeContext, job, JOB_ID, logPage, stubFetch } from './testing/fixtures';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const stored = [
  event(1, { kind: 'system', subtype: 'init', session_id: 'sess-1', model: 'claude-x' }),
  event(2, { kind: 'text', text: 'I will add the greeting.' }),
  event(3, { kind: 'tool_call', tool: 'Edit', tool_use_id: 'tu1', input: { file_path: 'main.py', old_string: 'pass', new_string: 'print("hello")' } }),
  event(4, { kind: 'tool_result', tool_use_id: 'tu1', output: 'The file main.py has been updated.', is_error: false }),
  event(5, { kind: 'tool_call', tool: 'Bash', tool_use_id: 'tu2', input: { command: 'python main.py' } }),
  event(6, { kind: 'tool_result', tool_use_id: 'tu2', output: 'Traceback: boom', is_error: true }),
  event(7, { kind: 'error', text: 'Rate limited' }),
];

describe('Logs', () => {
  it('shows stored events folded, expands a tool call, then appends live frames without duplicates', async () => {
    stubFetch({
      [`GET /api/jobs/${JOB_ID}/logs`]: (url) => logPage(Number(url.searchParams.get('after')) ? [] : stored),
      [`GET /api/cards/${CARD_ID}/jobs`]: () => [job],
    });
    const { context, emit } = fakeContext();
    render(Host, { props: { component: LogsPanel, props: { card, job, review: new CardReview(CARD_ID), active: true }, context } });

    expect(await screen.findByText('I will add the greeting.')).toBeTruthy();
    const edit = screen.getByRole('button', { name: /Edit main\.py/ });
    expect(edit.getAttribute('aria-expanded')).toBe('false');
    expect(screen.getByText('Rate limited').closest('.error')).not.toBeNull();
    expect(screen.getByRole('button', { name: /Bash python main\.py failed/ })).toBeTruthy();

    await fireEvent.click(edit);
    expect(screen.getByText('The file main.py has been updated.')).toBeTruthy();
    expect(screen.getByRole('button', { name: /Edit main\.py/ }).getAttribute('aria-expanded')).toBe('true');

    const frame = (seq: number, e: Record<string, unknown>) =>
      emit({ type: 'job_event', seq: 100 + seq, at: '2026-01-01T00:00:00Z', data: { job_id: JOB_ID, card_id: CARD_ID, attempt: 1, seq, event: e as never } });
    frame(2, { kind: 'text', text: 'I will add the greeting.' }); // already stored: dropped
    frame(8, { kind: 'text', text: 'Done now.' });
    frame(9, { kind: 'result', cost_usd: 0.0123, input_tokens: 1200, output_tokens: 340, duration_ms: 65000, num_turns: 4 });
    expect(await screen.findByText('Done now.')).toBeTruthy();
    expect(screen.getAllByText('I will add the greeting.')).toHaveLength(1);
    expect(screen.getByText('$0.01')).toBeTruthy();
    expect(screen.getByText('1m 05s')).toBeTruthy();
    expect(screen.getByText('4 turns')).toBeTruthy();
  });

  it('renders only a window of 100,000 events', async () => {
    const many = Array.from({ length: 100_000 }, (_, i) => event(i + 1, { kind: 'text', text: `line ${i + 1}` }));
    stubFetch({
      [`GET /api/jobs/${JOB_ID}/logs`]: (url) => {
        const after = Number(url.searchParams.get('after'));
        const limit = Number(url.searchParams.get('limit'));
        const from = many.findIndex((e) => e.id > after);
        return logPage(from === -1 ? [] : many.slice(from, from + limit));
      },
    });
    const log = new JobLog(JOB_ID);
    const { context } = fakeContext();
    render(Host, { props: { component: LogView, props: { log }, context } });
    await log.load();
    expect(log.folder.count).toBe(100_000);
    // jsdom has no layout (the view cannot scroll), so the window stays at the top
    await waitFor(() => expect(screen.getByText('line 1')).toBeTruthy());
    const rendered = document.querySelectorAll('[data-index]').length;
    expect(rendered).toBeGreaterThan(5);
    expect(rendered).toBeLessThan(60);
    expect(screen.queryByText('line 100000')).toBeNull();
    expect(log.heights.total()).toBeGreaterThan(100_000 * 20);
  }, 30_000);
});
