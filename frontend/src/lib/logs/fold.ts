// Fold a job's normalized agent events into log rows: plain objects in a plain array (no deep
// reactivity), tool results attached to their call, duplicates (REST page vs live frame) dropped.
import type { AgentEvent } from '../live/events';

export type LogItem =
  | { id: number; type: 'attempt'; attempt: number }
  | { id: number; type: 'text' | 'thinking' | 'error' | 'system' | 'other'; text: string }
  | {
      id: number;
      type: 'tool';
      tool: string;
      summary: string;
      input: Record<string, unknown> | null;
      useId: string | null;
      result: { output: string; isError: boolean } | null;
      open: boolean;
    }
  | {
      id: number;
      type: 'result';
      isError: boolean;
      text: string;
      cost: number | null;
      inputTokens: number | null;
      outputTokens: number | null;
      durationMs: number | null;
      turns: number | null;
    };

export type ToolItem = Extract<LogItem, { type: 'tool' }>;

const SUMMARY_KEYS = ['command', 'file_path', 'path', 'pattern', 'url', 'query', 'description', 'prompt', 'notebook_path'];

/** One line saying what a tool call does: its command, file, pattern… or its input, shortened. */
export function toolSummary(input: Record<string, unknown> | null | undefined, max = 160): string {
  if (!input) return '';
  let text = '';
  for (const key of SUMMARY_KEYS) {
    const value = input[key];
    if (typeof value === 'string' && value) {
      text = value;
      break;
    }
  }
  if (!text && Array.isArray(input.todos)) text = `${input.todos.length} todos`;
  if (!text) {
    const first = Object.values(input).find((v) => typeof v === 'string' && v);
    text = typeof first === 'string' ? first : JSON.stringify(input);
  }
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export type AddOutcome = 'added' | 'updated' | 'duplicate';

export class LogFolder {
  /** The rows, in order; `id` is the index. Mutated in place; callers bump a version to re-render. */
  readonly items: LogItem[] = [];
  /** How many events were taken (duplicates not counted). */
  count = 0;
  #lastSeq = new Map<number, number>();
  #pending = new Map<string, number>(); // tool_use_id → index of its call, until the result comes
  #attempt: number | null = null;

  /** Seen already? Events of an attempt arrive in seq order; anything at or below the last is a resend. */
  seen(attempt: number, seq: number): boolean {
    const last = this.#lastSeq.get(attempt);
    return last !== undefined && seq <= last;
  }

  /** Take one event. Returns whether it added a row, changed one (a tool result), or was a duplicate. */
  add(attempt: number, seq: number, event: AgentEvent): AddOutcome {
    if (this.seen(attempt, seq)) return 'duplicate';
    this.#lastSeq.set(attempt, seq);
    this.count++;
    if (this.#attempt !== null && attempt !== this.#attempt) this.#push({ id: 0, type: 'attempt', attempt });
    this.#attempt = attempt;
    switch (event.kind) {
      case 'text':
      case 'thinking':
        return this.#push({ id: 0, type: event.kind, text: event.text ?? '' });
      case 'error':
        return this.#push({ id: 0, type: 'error', text: event.text ?? event.output ?? 'Error' });
      case 'system':
        return this.#push({ id: 0, type: 'system', text: systemText(event) });
      case 'tool_call': {
        const useId = event.tool_use_id ?? null;
        const outcome = this.#push({
          id: 0,
          type: 'tool',
          tool: event.tool ?? 'tool',
          summary: toolSummary(event.input),
          input: event.input ?? null,
          useId,
          result: null,
          open: false,
        });
        if (useId) this.#pending.set(useId, this.items.length - 1);
        return outcome;
      }
      case 'tool_result': {
        const index = event.tool_use_id ? this.#pending.get(event.tool_use_id) : undefined;
        const result = { output: event.output ?? event.text ?? '', isError: !!event.is_error };
        if (index !== undefined) {
          this.#pending.delete(event.tool_use_id!);
          (this.items[index] as ToolItem).result = result;
          return 'updated';
        }
        return this.#push({
          id: 0,
          type: 'tool',
          tool: event.tool ?? 'result',
          summary: toolSummary({ output: result.output }),
          input: null,
          useId: event.tool_use_id ?? null,
          result,
          open: false,
        });
      }
      case 'result':
        return this.#push({
          id: 0,
          type: 'result',
          isError: !!event.is_error,
          text: event.text ?? '',
          cost: event.cost_usd ?? null,
          inputTokens: event.input_tokens ?? null,
          outputTokens: event.output_tokens ?? null,
          durationMs: event.duration_ms ?? null,
          turns: event.num_turns ?? null,
        });
      default:
        return this.#push({ id: 0, type: 'other', text: event.text ?? JSON.stringify(event) });
    }
  }

  #push(item: LogItem): AddOutcome {
    item.id = this.items.length;
    this.items.push(item);
    return 'added';
  }
}

function systemText(event: AgentEvent): string {
  const parts = [event.subtype ?? 'system'];
  if (event.model) parts.push(`model ${event.model}`);
  if (event.session_id) parts.push(`session ${event.session_id}`);
  if (event.text) parts.push(event.text);
  return parts.join(' · ');
}
