/** Discovery: RFC 8414 / OpenID Connect and RFC 9728 metadata per side, and the JWKS, readable cross-origin. */
import type { FastifyInstance, FastifyReply } from 'fastify';
import {
  authorizationServerMetadata,
  authorizationServerMetadataPath,
  JWKS_PATH,
  jwks,
  protectedResourceMetadata,
  protectedResourceMetadataPath,
} from '../oauth/metadata.js';
import type { HttpContext } from './context.js';

const sendJson = (reply: FastifyReply, body: unknown, maxAge: number) =>
  reply.header('Cache-Control', `public, max-age=${maxAge}`).type('application/json').send(body);

export function discoveryRoutes(ctx: HttpContext) {
  const { grantry } = ctx;
  const { publicUrl } = grantry.config;
  return async function plugin(app: FastifyInstance) {
    const paths: string[] = [JWKS_PATH];
    for (const side of grantry.sides.all) {
      const asPath = authorizationServerMetadataPath(side);
      const prPath = protectedResourceMetadataPath(side);
      paths.push(asPath, prPath, side.openidConfigurationPath);
      const serverMetadata = async (_request: unknown, reply: FastifyReply) =>
        sendJson(reply, authorizationServerMetadata(side, publicUrl, grantry.tokenEndpoint.grantTypes, grantry.scopes, grantry.keys), 300);
      app.get(asPath, serverMetadata);
      app.get(side.openidConfigurationPath, serverMetadata);
      app.get(prPath, async (_request, reply) => sendJson(reply, protectedResourceMetadata(side, publicUrl), 300));
    }
    // Short caching: a rotated key must reach resource servers well within the rotation delay.
    app.get(JWKS_PATH, async (_request, reply) => sendJson(reply, jwks(grantry.keys), 60));
    ctx.cors.apply(app, paths, 'GET');
  };
}
