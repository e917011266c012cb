// The frames of WS /ws. Generated from the backend's models (events/schemas.py, one per event
// type) through the OpenAPI document (scripts/gen-api.sh): never written by hand here.
import type { components } from '../api/schema';

type S = components['schemas'];
/** A frame carrying an event: `type` tells which, `data` is that event's model. */
export type BoardEvent = S['BoardEvent'];
/** Any frame: an event, `hello` (the latest seq, first on every connection) or `resync`. */
export type Frame = S['SocketFrame'];
export type AgentEvent = S['AgentEventData'];
export type JobEventData = S['JobEventAdded'];
