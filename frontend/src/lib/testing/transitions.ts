// The server's answer to GET /api/meta/transitions, for tests (scripts/gen-api.sh writes the JSON;
// a backend test checks it is what the server serves).
import type { TransitionsRead } from '../api';
import raw from '../api/transitions.json';

export const transitions = raw as TransitionsRead;
