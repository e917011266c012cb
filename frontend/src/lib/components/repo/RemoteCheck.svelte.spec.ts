import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import RemoteCheck from './RemoteCheck.svelte';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

function serve(answer: Record<string, unknown>) {
  const sent: unknown[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: string, init: RequestInit = {}) => {
      sent.push({ path: new URL(input, 'http://localhost').pathname, body: init.body ? JSON.parse(String(init.body)) : null });
      return Response.json(answer);
    }),
  );
  return sent;
}

describe('RemoteCheck', () => {
  it('checks the URL as typed, without saving it, and shows what the remote said', async () => {
    const sent = serve({ ok: true, url: 'https://git.example/team/app.git', default_branch: 'trunk', branches: 3, error: null });
    const { rerender } = render(RemoteCheck, { props: { repoId: 'repo-1', url: ' https://git.example/team/app.git ' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Check remote' }));
    expect((await screen.findByRole('status')).textContent).toContain('It answers: 3 branches, HEAD is trunk');
    expect(sent).toEqual([{ path: '/api/repos/repo-1/verify-remote', body: { remote_url: 'https://git.example/team/app.git' } }]);
    await rerender({ repoId: 'repo-1', url: 'https://git.example/team/other.git' }); // edited: the answer was for another URL
    expect(screen.queryByRole('status')).toBeNull();
  });

  it('shows the server’s sentence when the remote does not answer', async () => {
    serve({ ok: false, url: 'http://127.0.0.1:9/x.git', default_branch: null, branches: 0, error: 'Cannot reach http://127.0.0.1:9/x.git; check the URL and the network, then try again.' });
    render(RemoteCheck, { props: { repoId: 'repo-1', url: 'http://127.0.0.1:9/x.git' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Check remote' }));
    expect((await screen.findByRole('status')).textContent).toContain('✗ Cannot reach http://127.0.0.1:9/x.git');
  });

  it('says an empty remote is empty, and is off without a URL', async () => {
    serve({ ok: true, url: '/srv/git/new.git', default_branch: null, branches: 0, error: null });
    const { rerender } = render(RemoteCheck, { props: { repoId: 'repo-1', url: '/srv/git/new.git' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Check remote' }));
    expect((await screen.findByRole('status')).textContent).toContain('It answers: an empty repository');
    await rerender({ repoId: 'repo-1', url: '  ' });
    expect(screen.getByRole('button', { name: 'Check remote' })).toHaveProperty('disabled', true);
  });
});
