// A real OpenID Connect provider for the portal's single sign-on tests: the certified
// `oidc-provider`, over http on 127.0.0.1, signing ID tokens RS256.
//
// Environment:
//   OIDC_TEST_CLIENTS  JSON list of client metadata (client_id, client_secret, redirect_uris,
//                      post_logout_redirect_uris)
//   OIDC_TEST_SIGNING_KEY  the RS256 private key (JWK) that signs the ID tokens; the tests
//                      make it (node 20's own generateKeyPairSync then exportKey can deadlock
//                      when a garbage collection falls between them)
//   OIDC_TEST_STATE    a JSON file read at every request, which the tests rewrite:
//                      {"accounts": {"<login>": {<claims: email, groups...>}},
//                       "faults": {"<path>": {"status": 500, "body": "..."}},
//                       "clock_offset_seconds": 0}
// Prints "listening <issuer>" once it listens, on a port the system chose.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const clients = JSON.parse(process.env.OIDC_TEST_CLIENTS);
const statePath = process.env.OIDC_TEST_STATE;
const readState = () => JSON.parse(readFileSync(statePath, 'utf8'));

// The provider's clock, which a test can move (an expired ID token is one issued in the past).
let clockOffsetMs = 0;
const realNow = Date.now;
Date.now = () => realNow() + clockOffsetMs;

const signingKey = { ...JSON.parse(process.env.OIDC_TEST_SIGNING_KEY), kid: 'test-key-1', alg: 'RS256', use: 'sig' };

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients,
    jwks: { keys: [signingKey] },
    async findAccount(ctx, id) {
      const claims = readState().accounts[id];
      if (!claims) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...claims }) };
    },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['preferred_username', 'name'],
      groups: ['groups'],
    },
    // The scopes' claims go into the ID token too, as many providers do with groups.
    conformIdTokenClaims: false,
    // First-party client: no consent page, the grant covers what the portal asks for.
    async loadExistingGrant(ctx) {
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope(ctx.oidc.requestParamScopes ? [...ctx.oidc.requestParamScopes].join(' ') : 'openid');
      grant.addOIDCClaims(['sub', 'email', 'email_verified', 'preferred_username', 'name', 'groups']);
      await grant.save();
      return grant;
    },
    ttl: { IdToken: 600, AccessToken: 600, AuthorizationCode: 600 },
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          ctx.body = `<!DOCTYPE html><html><head><title>Sign out</title></head><body>
            <h1>Sign out of the test provider?</h1>${form}
            <button type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
            </body></html>`;
        },
      },
    },
  });
  provider.proxy = false;
  // Faults and the clock, from the state file, before the provider handles a request.
  provider.use(async (ctx, next) => {
    const state = readState();
    clockOffsetMs = (state.clock_offset_seconds || 0) * 1000;
    const fault = (state.faults || {})[ctx.path];
    if (fault) {
      ctx.status = fault.status || 200;
      ctx.type = fault.type || 'application/json';
      ctx.body = fault.body;
      return;
    }
    await next();
  });
  server.on('request', provider.callback());
  console.log(`listening ${issuer}`);
});
