/** Where a session is in its conversation with the peer. */
export const SessionState = {
  Auth: 0,
  Command: 1,
  Body: 2,
  Work: 3,
  Confirm: 4,
  Relay: 5,
  Closed: 6,
} as const;
export type SessionState = (typeof SessionState)[keyof typeof SessionState];

/** States in which the peer is sending a line (first-byte and line deadlines apply). */
export function readsLines(state: SessionState): boolean {
  return (
    state === SessionState.Auth || state === SessionState.Command || state === SessionState.Confirm
  );
}
