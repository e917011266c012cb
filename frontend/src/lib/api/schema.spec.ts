// @vitest-environment node
// The board's API and event types are generated: the backend's models -> openapi.json (a backend
// test checks that copy) -> schema.d.ts (checked here). Fix a failure with scripts/gen-api.sh.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = (name: string) => fileURLToPath(new URL(name, import.meta.url));

describe('schema.d.ts', () => {
  it('is what openapi-typescript makes of the committed openapi.json (run scripts/gen-api.sh)', () => {
    const cli = here('../../../node_modules/openapi-typescript/bin/cli.js');
    const generated = execFileSync(process.execPath, [cli, here('./openapi.json')], { encoding: 'utf8' });
    expect(generated).toBe(readFileSync(here('./schema.d.ts'), 'utf8'));
  });

  it('holds the board socket frames, one per event type', () => {
    const schema = readFileSync(here('./schema.d.ts'), 'utf8');
    for (const type of ['card_updated', 'card_deleted', 'repo_updated', 'repo_deleted', 'job_status', 'job_event', 'runner_status', 'runner_deleted']) {
      expect(schema).toContain(`type: "${type}";`);
    }
  });
});
