// Dragging a card with the keyboard, as the README says: Space picks the focused card up, the
// arrow keys move it (left and right between columns, up and down within one), Space drops it,
// Escape puts it back. Until the drop nothing is sent: the board shows the card where it would
// land (BoardState.preview), and `message` says where, naming the card, for screen readers.
import type { CardStatus } from '../api';
import type { BoardState } from './board.svelte';
import { byPosition, COLUMNS, dropPosition, STATUS_LABEL } from './cards';

export type MoveKey = 'ArrowLeft' | 'ArrowRight' | 'ArrowUp' | 'ArrowDown';
export const MOVE_KEYS: readonly string[] = ['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown'];

type Drop = (id: string, to: CardStatus, position: number) => Promise<unknown>;

export class KeyboardDrag {
  /** The last thing to announce (a live region reads it). */
  message = $state('');
  #board: BoardState;
  #drop: Drop;
  #origin: CardStatus | null = null;

  constructor(board: BoardState, drop: Drop) {
    this.#board = board;
    this.#drop = drop;
  }

  /** The id of the card being held, if any. */
  get held(): string | null {
    return this.#board.preview?.id ?? null;
  }

  pickUp = (id: string): void => {
    const card = this.#board.card(id);
    if (!card) return;
    const index = this.#board.columns[card.status].findIndex((c) => c.id === id);
    this.#origin = card.status;
    this.#board.preview = { id, to: card.status, index: Math.max(0, index) };
    this.message =
      `Picked up “${card.title}” in ${this.#where()}. Left and right arrows move it to another column, ` +
      'up and down within one; Space drops it, Escape puts it back.';
  };

  /** Move the held card one step; false when it cannot go that way (it says why). */
  move = (key: MoveKey): boolean => {
    const held = this.#board.preview;
    const card = held && this.#board.card(held.id);
    if (!held || !card) return false;
    let { to, index } = held;
    if (key === 'ArrowLeft' || key === 'ArrowRight') {
      const column = COLUMNS.findIndex((c) => c.status === to) + (key === 'ArrowLeft' ? -1 : 1);
      if (column < 0 || column >= COLUMNS.length) {
        this.message = `“${card.title}” is already in the ${column < 0 ? 'first' : 'last'} column, ${STATUS_LABEL[to]}.`;
        return false;
      }
      to = COLUMNS[column].status;
      index = Math.min(index, this.#others(to, held.id).length);
    } else {
      const last = this.#board.columns[to].length - 1;
      index = Math.max(0, Math.min(last, index + (key === 'ArrowUp' ? -1 : 1)));
      if (index === held.index) {
        this.message = `“${card.title}” is already at the ${key === 'ArrowUp' ? 'top' : 'bottom'} of ${STATUS_LABEL[to]}.`;
        return false;
      }
    }
    this.#board.preview = { id: held.id, to, index };
    this.message = `“${card.title}” in ${this.#where()}.`;
    return true;
  };

  /** Drop the held card where it is shown (the move may still ask first, or be refused). */
  drop = async (): Promise<void> => {
    const held = this.#board.preview;
    const card = held && this.#board.card(held.id);
    if (!held || !card) return this.cancel();
    const others = this.#others(held.to, held.id);
    const position = this.#board.filtering ? dropPosition(others, held.index, card, held.to) : held.index;
    this.message = `Dropped “${card.title}” in ${this.#where()}.`;
    this.#board.preview = null;
    await this.#drop(held.id, held.to, position);
  };

  /** Put the held card back where it was picked up. */
  cancel = (): void => {
    const card = this.#board.preview && this.#board.card(this.#board.preview.id);
    this.#board.preview = null;
    if (card && this.#origin) this.message = `“${card.title}” put back in ${STATUS_LABEL[this.#origin]}.`;
    this.#origin = null;
  };

  #others(status: CardStatus, id: string) {
    const base = this.#board.filtering ? this.#board.visible : this.#board.cards;
    return base.filter((c) => c.status === status && c.id !== id).sort(byPosition);
  }

  #where(): string {
    const held = this.#board.preview;
    if (!held) return '';
    const count = this.#board.columns[held.to].length;
    return `${STATUS_LABEL[held.to]}, position ${held.index + 1} of ${count}`;
  }
}
