import { describe, expect, it } from 'vitest';
import type { JobRead } from './api';
import { attemptLabels, attemptsUsed, formatCost, formatDuration, plural } from './format';

describe('formatDuration', () => {
  it('shows a tenth of a second under a minute, then minutes and hours', () => {
    expect(formatDuration(4200)).toBe('4.2s');
    expect(formatDuration(0)).toBe('0.0s');
    expect(formatDuration(59_960)).toBe('59.9s'); // never "60.0s"
    expect(formatDuration(60_000)).toBe('1m 00s');
    expect(formatDuration(185_000)).toBe('3m 05s');
    expect(formatDuration(3_720_000)).toBe('1h 02m');
    expect(formatDuration(-50)).toBe('0.0s');
  });
});

describe('formatCost', () => {
  it('is dollars to the cent everywhere, with tiny costs said as such', () => {
    expect(formatCost(0.1234)).toBe('$0.12');
    expect(formatCost(2)).toBe('$2.00');
    expect(formatCost(1234.5)).toBe('$1,234.50');
    expect(formatCost(0)).toBe('$0.00');
    expect(formatCost(0.0042)).toBe('<$0.01');
    expect(formatCost(null)).toBe('');
    expect(formatCost(undefined)).toBe('');
  });
});

describe('plural', () => {
  it('counts with the right form of the word', () => {
    expect(plural(1, 'file')).toBe('1 file');
    expect(plural(0, 'file')).toBe('0 files');
    expect(plural(2, 'file')).toBe('2 files');
    expect(plural(1204, 'event')).toBe('1,204 events');
    expect(plural(3, 'entry', 'entries')).toBe('3 entries');
  });
});

const job = (id: string, kind: string, status: JobRead['status'], minute: number) =>
  ({ id, kind, status, queued_at: `2026-01-01T00:0${minute}:00Z` }) as JobRead;

describe('attempts', () => {
  it('numbers attempts as max_attempts counts them, whatever their kind', () => {
    const jobs = [
      job('c', 'iterate', 'completed', 3),
      job('a', 'build', 'completed', 1),
      job('b', 'build', 'cancelled', 2),
      job('d', 'retry', 'failed', 4),
    ];
    expect([...attemptLabels(jobs)]).toEqual([
      ['a', 'Attempt 1 · build'],
      ['b', 'Cancelled · build'],
      ['c', 'Attempt 2 · iterate'],
      ['d', 'Attempt 3 · retry'],
    ]);
    expect(attemptsUsed(jobs)).toBe(3);
    expect(attemptsUsed([])).toBe(0);
  });

  it('counts the agent passes of the step that failed, not the checks, follow-ups or other steps', () => {
    const step = (j: JobRead, step_id: string) => ({ ...j, step_id }) as JobRead;
    const jobs = [
      step(job('p', 'plan', 'completed', 1), 'plan'),
      step(job('b', 'build', 'completed', 2), 'build'),
      step(job('v', 'verify', 'failed', 3), 'verify'),
      step(job('f', 'fix', 'completed', 4), 'build'),
      step(job('u', 'followup', 'completed', 5), 'build'),
      step(job('w', 'verify', 'failed', 6), 'verify'),
    ];
    expect(attemptsUsed(jobs)).toBe(2);
  });
});
