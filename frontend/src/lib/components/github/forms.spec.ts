import { describe, expect, it } from 'vitest';
import type { GitHubLinkRead } from '../../api';
import { describeSync, linkBodyOf, linkFormOf, ruleFormOf, ruleOf } from './forms';

const link = {
  repo_id: 'r',
  owner: 'octo-org',
  name: 'hello-world',
  api_url: 'https://api.github.com',
  git_url: 'https://github.com/octo-org/hello-world.git',
  on_approve: 'pull_request',
  has_token: true,
} as GitHubLinkRead;

describe('the link form', () => {
  it('needs OWNER/NAME, and a token unless the repo is linked already', () => {
    const empty = linkFormOf(null);
    expect(linkBodyOf({ ...empty, repository: 'octo-org' }, false)).toMatch(/OWNER\/NAME/);
    expect(linkBodyOf({ ...empty, repository: 'a/b/c' }, false)).toMatch(/OWNER\/NAME/);
    expect(linkBodyOf({ ...empty, repository: 'octo-org/hello-world' }, false)).toMatch(/token with write access/);
    expect(linkBodyOf({ ...empty, repository: 'https://github.com/octo-org/hello-world.git', token: ' ghp_x ' }, false)).toEqual({
      owner: 'octo-org',
      name: 'hello-world',
      token: 'ghp_x',
      on_approve: 'merge',
    });
  });

  it('starts from the link without its token, and an empty token keeps the stored one', () => {
    const form = linkFormOf(link);
    expect(form).toEqual({ repository: 'octo-org/hello-world', token: '', api_url: '', git_url: link.git_url, on_approve: 'pull_request' });
    expect(linkBodyOf(form, true)).toEqual({ owner: 'octo-org', name: 'hello-world', on_approve: 'pull_request', git_url: link.git_url });
  });
});

describe('the rule form', () => {
  it('round-trips a rule, with labels as comma-separated text', () => {
    const rule = {
      state: 'open' as const,
      labels: ['bug', 'agent'],
      exclude_labels: ['lazyaf:skip'],
      assignee: null,
      milestone: 'v1',
      auto_start: true,
      workflow: 'build',
      max_concurrent: 1,
      interval_s: 30,
    };
    const form = ruleFormOf(rule);
    expect(form.labels).toBe('bug, agent');
    expect(ruleOf({ ...form, labels: ' bug ,, agent ', assignee: '  ' })).toEqual(rule);
    expect(ruleOf(ruleFormOf(null))).toMatchObject({ exclude_labels: ['lazyaf:skip'], max_concurrent: 2, interval_s: 60 });
  });

  it('describes a sync in words', () => {
    expect(describeSync({ created: 1, updated: 2, closed: 0, skipped: 3 })).toBe('1 card created, 2 updated, 0 closed, 3 issues skipped');
  });
});
