// The client must exist, be active and belong to this side before anything else is trusted:
// until then there is no safe place to send the user back to, so errors are shown as a page.
import { AuthorizePageError, OAuthError } from '../errors.js';
import type { Params } from '../params.js';
import type { Side } from '../sides.js';
import type { Client, ClientRepository } from '../../storage/repositories.js';

export async function checkClient(params: Params, side: Side, clients: ClientRepository): Promise<Client> {
  let clientId: string | undefined;
  try {
    clientId = params.get('client_id');
  } catch (e) {
    throw new AuthorizePageError(400, 'Invalid client', (e as OAuthError).description);
  }
  if (!clientId) throw new AuthorizePageError(400, 'Invalid client', 'The request has no client_id.');
  const client = clientId.length <= 128 ? await clients.findByClientId(clientId) : undefined;
  if (!client || !client.active) throw new AuthorizePageError(400, 'Invalid client', 'The application is unknown or has been deactivated.');
  // A client of the other side is "not found" here, as in the original product.
  if (client.side !== side.name) throw new AuthorizePageError(404, 'Not found', 'The application is not registered for this site.');
  return client;
}
