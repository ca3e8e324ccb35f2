/**
 * Security-relevant events of the protocol core, reported to whoever listens (the audit trail,
 * wired by the composition root), so that src/oauth depends on no management or HTTP code.
 * An event names who and what was involved, never a secret, password, code or token.
 */
import type { SideName } from './sides.js';

export type ProtocolEventKind =
  | 'signin.succeeded'
  | 'signin.failed'
  | 'signin.blocked'
  | 'signout'
  | 'client_authentication.blocked'
  | 'consent.granted'
  | 'consent.denied'
  | 'token.issued'
  | 'code.reused'
  | 'refresh_token.reused'
  | 'token.revoked';

export interface ProtocolEvent {
  kind: ProtocolEventKind;
  side?: SideName;
  userId?: number | null;
  clientId?: string | null;
  /** The client's IP address, when the event comes from a request. */
  address?: string;
  /** Small facts (grant type, scope, how): never a credential. */
  details?: Record<string, string | number | boolean>;
}

export interface ProtocolEvents {
  emit(event: ProtocolEvent): void;
}

/** For code that runs without an audit trail (tools, some tests). */
export const NO_EVENTS: ProtocolEvents = { emit() {} };
