import { describe, expect, it } from 'vitest';
import { LogFolder, toolSummary, type ToolItem } from './fold';

describe('LogFolder', () => {
  it('attaches a tool result to its call by tool_use_id', () => {
    const folder = new LogFolder();
    expect(folder.add(1, 1, { kind: 'text', text: 'Looking.' })).toBe('added');
    expect(folder.add(1, 2, { kind: 'tool_call', tool: 'Bash', tool_use_id: 't1', input: { command: 'ls -la' } })).toBe('added');
    expect(folder.add(1, 3, { kind: 'tool_call', tool: 'Read', tool_use_id: 't2', input: { file_path: 'a.py' } })).toBe('added');
    expect(folder.add(1, 4, { kind: 'tool_result', tool_use_id: 't2', output: 'print(1)' })).toBe('updated');
    expect(folder.add(1, 5, { kind: 'tool_result', tool_use_id: 't1', output: 'boom', is_error: true })).toBe('updated');
    expect(folder.items).toHaveLength(3);
    const [, bash, read] = folder.items as [unknown, ToolItem, ToolItem];
    expect(bash.summary).toBe('ls -la');
    expect(bash.result).toEqual({ output: 'boom', isError: true });
    expect(read.result).toEqual({ output: 'print(1)', isError: false });
  });

  it('keeps a result without a call as its own row', () => {
    const folder = new LogFolder();
    folder.add(1, 1, { kind: 'tool_result', tool_use_id: 'zz', output: 'orphan' });
    expect(folder.items[0]).toMatchObject({ type: 'tool', result: { output: 'orphan' } });
  });

  it('drops duplicates by attempt and seq, and marks a new attempt', () => {
    const folder = new LogFolder();
    folder.add(1, 1, { kind: 'text', text: 'a' });
    folder.add(1, 2, { kind: 'text', text: 'b' });
    expect(folder.add(1, 2, { kind: 'text', text: 'b' })).toBe('duplicate');
    expect(folder.add(1, 1, { kind: 'text', text: 'a' })).toBe('duplicate');
    folder.add(2, 1, { kind: 'text', text: 'again' });
    folder.add(2, 2, { kind: 'result', cost_usd: 0.5, num_turns: 3, duration_ms: 1000 });
    expect(folder.items.map((i) => i.type)).toEqual(['text', 'text', 'attempt', 'text', 'result']);
    expect(folder.items.map((i) => i.id)).toEqual([0, 1, 2, 3, 4]);
    expect(folder.count).toBe(4);
    expect(folder.items[4]).toMatchObject({ cost: 0.5, turns: 3, durationMs: 1000 });
  });

  it('summarises tool input in one short line', () => {
    expect(toolSummary({ command: 'npm\n  test' })).toBe('npm test');
    expect(toolSummary({ todos: [1, 2] })).toBe('2 todos');
    expect(toolSummary({ x: 1 })).toBe('{"x":1}');
    expect(toolSummary({ command: 'a'.repeat(300) }, 10)).toBe('aaaaaaaaa…');
    expect(toolSummary(null)).toBe('');
  });
});
