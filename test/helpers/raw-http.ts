/**
 * HTTP/1.1 over a raw TCP socket, for what fetch cannot do: send a request slowly or in part,
 * hold a connection open, and see exactly when the server closes it.
 */
import net from 'node:net';

export interface RawConnection {
  socket: net.Socket;
  /** Everything the server has sent so far. */
  received(): string;
  /** Resolves when the server has sent `text` `times` times (or rejects when the connection closes first). */
  waitFor(text: string, times?: number): Promise<string>;
  /** Resolves when the connection is closed, with what was received and the milliseconds since it was opened. */
  closed: Promise<{ data: string; afterMs: number }>;
  /** Writes `chunks` one by one, `intervalMs` apart, until they run out or the connection closes. */
  trickle(chunks: string[], intervalMs: number): Promise<void>;
}

/** Opens a connection to the server at `baseUrl` (http://host:port) and resolves once connected. */
export function openConnection(baseUrl: string): Promise<RawConnection> {
  const { hostname, port } = new URL(baseUrl);
  const openedAt = Date.now();
  const socket = net.connect({ host: hostname, port: Number(port) });
  let data = '';
  const listeners = new Set<() => void>();
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    data += chunk;
    for (const l of listeners) l();
  });
  // A reset from the server is one way of closing: the test looks at `closed`.
  socket.on('error', () => {});
  const closed = new Promise<{ data: string; afterMs: number }>((resolve) => socket.once('close', () => resolve({ data, afterMs: Date.now() - openedAt })));
  const connection: RawConnection = {
    socket,
    received: () => data,
    closed,
    waitFor(text, times = 1) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (data.split(text).length > times) {
            listeners.delete(check);
            resolve(data);
          }
        };
        listeners.add(check);
        check();
        void closed.then(() => {
          if (listeners.delete(check)) reject(new Error(`connection closed before ${JSON.stringify(text)} arrived; received ${JSON.stringify(data)}`));
        });
      });
    },
    async trickle(chunks, intervalMs) {
      for (const chunk of chunks) {
        if (socket.destroyed || !socket.writable) return;
        socket.write(chunk);
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
      }
    },
  };
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(connection));
    socket.once('error', reject);
  });
}

/** One complete request on a new connection closed after the response; resolves with the status and the raw response. */
export async function rawRequest(baseUrl: string, request: string): Promise<{ status: number; response: string }> {
  const connection = await openConnection(baseUrl);
  connection.socket.write(request);
  const { data } = await connection.closed;
  const status = /^HTTP\/1\.1 (\d{3}) /.exec(data)?.[1];
  if (!status) throw new Error(`no HTTP response: ${JSON.stringify(data)}`);
  return { status: Number(status), response: data };
}
