/**
 * The audit trail: every security-relevant event, recorded once, as a row of audit_events and as
 * one structured log line. Events are buffered in memory and written in batches (one multi-row
 * insert every FLUSH_MS or BATCH_SIZE events, and on close), so recording never adds a database
 * round trip to the token endpoint or the login form. Reading the trail flushes this process's
 * buffer first, so what was just done shows at once.
 *
 * Nothing recorded is a secret: callers pass ids, names and small facts only, never a password,
 * client secret, code or token (a test runs every flow and looks for them).
 */
import type { ProtocolEvent, ProtocolEvents } from '../oauth/events.js';
import type { SideName } from '../oauth/sides.js';
import type { AuditEvent, AuditRepository, NewAuditEvent } from '../storage/repositories.js';
import { ManagementError } from './errors.js';
import { checkedPage } from './listing.js';
import { type ActionContext, actorOf, requireAdmin } from './principal.js';

/** Every kind of event, for filters in the console and the CLI. */
export const AUDIT_KINDS = [
  'signin.succeeded',
  'signin.failed',
  'signin.blocked',
  'signout',
  'client_authentication.blocked',
  'consent.granted',
  'consent.denied',
  'consent.revoked',
  'token.issued',
  'code.reused',
  'refresh_token.reused',
  'token.revoked',
  'tokens.revoked',
  'client.created',
  'client.updated',
  'client.activated',
  'client.deactivated',
  'client.secret_regenerated',
  'client.deleted',
  'user.created',
  'user.updated',
  'user.admin_granted',
  'user.admin_revoked',
  'user.password_set',
  'user.password_changed',
  'user.deleted',
  'keys.rotated',
] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

/** Events whose actor is unknown by nature: whoever sent the wrong password or secret. */
const ANONYMOUS_KINDS: ReadonlySet<string> = new Set(['signin.failed', 'signin.blocked', 'client_authentication.blocked']);

/** What a management action records; who and from where come from its ActionContext. */
export interface ManagementEvent {
  kind: AuditKind;
  side?: SideName;
  userId?: number;
  clientId?: string;
  details?: Record<string, string | number | boolean>;
}

/** Where each event goes as one log line: the server's pino logger, or nowhere (the CLI). */
export type AuditSink = (event: NewAuditEvent) => void;

const FLUSH_MS = 100;
const BATCH_SIZE = 100;

export class AuditTrail implements ProtocolEvents {
  readonly kinds: readonly string[] = AUDIT_KINDS;
  private buffer: NewAuditEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private sink: AuditSink = () => {};
  private observer: AuditSink = () => {};

  constructor(
    private readonly repo: AuditRepository,
    /** An event that could not be written, even alone, is reported here (the log line has it). */
    private onError: (error: unknown) => void = () => {},
  ) {}

  /** Sends every event to `sink` as well, and failed writes to `onError` (set by the composition root). */
  logTo(sink: AuditSink, onError?: (error: unknown) => void): void {
    this.sink = sink;
    if (onError) this.onError = onError;
  }

  /** Tells `observer` of every event as it is recorded (the metrics count some kinds). */
  observe(observer: AuditSink): void {
    this.observer = observer;
  }

  /** A management action by `ctx`'s principal. */
  action(ctx: ActionContext, event: ManagementEvent): void {
    this.add({
      at: now(),
      kind: event.kind,
      actor: actorOf(ctx),
      address: ctx.address ?? null,
      side: event.side ?? null,
      userId: event.userId ?? null,
      clientId: event.clientId ?? null,
      details: event.details ?? {},
    });
  }

  /**
   * A protocol event (src/oauth, the login and consent pages): the actor is the user, else the
   * client. A refused or blocked sign-in or client authentication is anyone's doing, most likely
   * not the account holder's (whose account is being guessed at): its actor is 'anonymous', and
   * the account it aimed at stays in the user column.
   */
  emit(event: ProtocolEvent): void {
    const actor = ANONYMOUS_KINDS.has(event.kind)
      ? 'anonymous'
      : event.userId != null
        ? `${event.side ?? ''} user ${event.userId}`.trim()
        : event.clientId != null
          ? `client ${event.clientId}`
          : 'anonymous';
    this.add({
      at: now(),
      kind: event.kind,
      actor,
      address: event.address ?? null,
      side: event.side ?? null,
      userId: event.userId ?? null,
      clientId: event.clientId ?? null,
      details: event.details ?? {},
    });
  }

  /** Newest first; admins and the CLI only. */
  async list(
    ctx: ActionContext,
    filter: { kind?: string; side?: SideName; userId?: number; clientId?: string; page: number; size: number },
  ): Promise<{ items: AuditEvent[]; total: number }> {
    requireAdmin(ctx, 'read the audit trail');
    if (filter.kind !== undefined && !this.kinds.includes(filter.kind)) {
      throw new ManagementError(`unknown event kind; known: ${this.kinds.join(', ')}`);
    }
    if (filter.userId !== undefined && filter.side === undefined) throw new ManagementError('a user filter needs the side of the user');
    const { page, size } = checkedPage(filter.page, filter.size);
    await this.flush();
    return this.repo.list({ kind: filter.kind, side: filter.side, userId: filter.userId, clientId: filter.clientId }, (page - 1) * size, size);
  }

  /** Writes what is buffered; resolves when this and every earlier batch is stored. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.buffer;
    this.buffer = [];
    // One write at a time, in order, so the rows keep the order of the events.
    this.writing = this.writing.then(() => this.write(batch));
    return this.writing;
  }

  /**
   * One multi-row insert; if the database refuses it, each row alone, so that a row it will
   * not take (add() bounds every field, so this should not happen) costs only itself, not the
   * other events of its batch. A row lost anyway is reported to onError; its log line went out
   * when it was recorded.
   */
  private async write(batch: NewAuditEvent[]): Promise<void> {
    if (batch.length === 0) return;
    try {
      await this.repo.insert(batch);
      return;
    } catch (e) {
      if (batch.length === 1) return this.onError(lost(batch[0] as NewAuditEvent, e));
    }
    for (const event of batch) {
      try {
        await this.repo.insert([event]);
      } catch (e) {
        this.onError(lost(event, e));
      }
    }
  }

  /** Flushes the buffer; call before closing the database. */
  close(): Promise<void> {
    return this.flush();
  }

  /** Every event passes here: bounded once, so that the table takes what the log line shows. */
  private add(recorded: NewAuditEvent): void {
    const event = bounded(recorded);
    this.sink(event);
    this.observer(event);
    this.buffer.push(event);
    if (this.buffer.length >= BATCH_SIZE) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), FLUSH_MS);
      // A pending batch never keeps a process alive on its own; close() writes it.
      this.timer.unref();
    }
  }
}

const now = () => Math.floor(Date.now() / 1000);

/** The error reported for an event the database would not store: which one, and why. */
const lost = (event: NewAuditEvent, cause: unknown) => new Error(`the audit event ${event.kind} of ${new Date(event.at * 1000).toISOString()} could not be stored`, { cause });

/**
 * The widths of audit_events' columns (migration 006). A value from a request can be longer
 * (an X-Forwarded-For address, a claimed client_id), and PostgreSQL refuses an over-long value
 * where SQLite keeps it: cut here, the same on both. Details are capped so a row stays small.
 */
const LIMITS = { kind: 64, actor: 255, address: 64, clientId: 64 } as const;
const DETAIL_STRING_MAX = 256;
const DETAILS_MAX = 2048;

const cut = (value: string, max: number) => (value.length <= max ? value : value.slice(0, max));

function bounded(event: NewAuditEvent): NewAuditEvent {
  let truncated = false;
  const details: NewAuditEvent['details'] = {};
  for (const [key, value] of Object.entries(event.details)) {
    if (typeof value === 'string' && value.length > DETAIL_STRING_MAX) {
      details[key] = cut(value, DETAIL_STRING_MAX);
      truncated = true;
    } else details[key] = value;
  }
  // Many keys can still add up to a large row: then only the marker is kept.
  const kept = truncated ? { ...details, truncated: true } : details;
  return {
    ...event,
    kind: cut(event.kind, LIMITS.kind),
    actor: cut(event.actor, LIMITS.actor),
    address: event.address === null ? null : cut(event.address, LIMITS.address),
    clientId: event.clientId === null ? null : cut(event.clientId, LIMITS.clientId),
    details: JSON.stringify(kept).length <= DETAILS_MAX ? kept : { truncated: true },
  };
}
