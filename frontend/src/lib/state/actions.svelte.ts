// The card actions that ask first, whichever way they are made (button, mouse drop, keyboard
// drop): reject (confirm, and maybe delete the branch), start a card that ran before (on with
// its branch, or fresh from the default branch), retry a card whose attempts are spent (raise
// the limit). Each question is a $state prompt that a dialog in App.svelte shows.
import { api, type CardStatus, type StartChoice } from '../api';
import { attemptsUsed } from '../format';
import type { BoardState } from './board.svelte';
import { handleError } from './toasts.svelte';

export type Prompt =
  | { kind: 'reject'; cardId: string }
  | { kind: 'start'; cardId: string; choice: StartChoice }
  | { kind: 'limit'; cardId: string; used: number };

export class CardActions {
  /** The question on screen, if any. */
  prompt = $state.raw<Prompt | null>(null);
  #board: BoardState;

  constructor(board: BoardState) {
    this.#board = board;
  }

  /**
   * Start a todo card, running `choice.workflow` (the start action's picker; a drop sends none,
   * so the repo's default runs); one that kept its branch from an earlier run asks how first.
   */
  start = async (id: string, choice: StartChoice = {}): Promise<boolean> => {
    if (this.#asksHow(id)) {
      this.prompt = { kind: 'start', cardId: id, choice };
      return false;
    }
    // No branch to go on with (never started, or rejected with its branch deleted): the server
    // makes a new one from the default branch.
    return Object.keys(choice).length ? this.#board.act(id, 'start', choice) : this.#board.act(id, 'start');
  };

  /** Reject a reviewed card, after the reviewer confirms (and chooses whether to delete its branch). */
  reject = (id: string): void => {
    this.prompt = { kind: 'reject', cardId: id };
  };

  /** Retry a failed card; when its attempts are spent, offer to raise the limit instead of failing. */
  retry = async (id: string): Promise<boolean> => {
    const card = this.#board.card(id);
    if (!card) return false;
    let used: number;
    try {
      used = attemptsUsed(await api.cards.jobs(id));
    } catch (error) {
      handleError(error, `Could not retry “${card.title}”`);
      return false;
    }
    if (used >= card.max_attempts) {
      this.prompt = { kind: 'limit', cardId: id, used };
      return false;
    }
    return this.#board.act(id, 'retry');
  };

  /** A card dropped (mouse or keyboard) in column `to` at `position`: moves that ask first put it back and ask. */
  drop = async (id: string, to: CardStatus, position: number): Promise<boolean> => {
    const card = this.#board.card(id);
    if (!card) return false;
    const drop = this.#board.dropAction(card.status, to);
    const action = 'action' in drop ? drop.action : null;
    const asks = action === 'reject' || action === 'retry' || (action === 'start' && this.#asksHow(id));
    if (!asks) return this.#board.move(id, to, position);
    this.#board.snapBack();
    if (action === 'reject') {
      this.reject(id);
      return false;
    }
    return action === 'retry' ? this.retry(id) : this.start(id);
  };

  /** The answer to a start prompt: on with the card's branch, or fresh from the default branch. */
  confirmStart = async (fresh: boolean): Promise<boolean> => {
    const choice = this.prompt?.kind === 'start' ? this.prompt.choice : {};
    return this.#answer('start', (id) => this.#board.act(id, 'start', { ...choice, fresh }));
  };

  confirmReject = async (deleteBranch: boolean): Promise<boolean> =>
    this.#answer('reject', (id) => this.#board.act(id, 'reject', { deleteBranch }));

  /** Raise the card's max_attempts to `limit`, then retry it. */
  raiseAndRetry = async (limit: number): Promise<boolean> =>
    this.#answer('limit', async (id) => (await this.#board.update(id, { max_attempts: limit })) && this.#board.act(id, 'retry'));

  #asksHow(id: string): boolean {
    const card = this.#board.card(id);
    return Boolean(card?.branch_name && card.job_id);
  }

  dismiss = (): void => {
    this.prompt = null;
  };

  async #answer(kind: Prompt['kind'], run: (cardId: string) => Promise<boolean>): Promise<boolean> {
    const prompt = this.prompt;
    if (prompt?.kind !== kind) return false;
    const done = await run(prompt.cardId);
    if (done && this.prompt === prompt) this.prompt = null;
    return done;
  }
}
