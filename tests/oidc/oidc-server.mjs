// oidc-provider 9.13 as the test OpenID Connect provider, on loopback (tests/integration/oidc_idp.py).
// Env: PORT (listen), ISSUER (the URL clients use: the counting proxy in front of this server),
// REDIRECT_URI, AT_TTL (access-token seconds), ACCESS_JWT=1 (RFC 9068 JWT access tokens).
// Refresh tokens always rotate; reusing a rotated-away one revokes the whole grant.
import Provider from 'oidc-provider';

const PORT = Number(process.env.PORT);
const ISSUER = process.env.ISSUER;
const REDIRECT_URI = process.env.REDIRECT_URI;
const ACCESS_JWT = process.env.ACCESS_JWT === '1';
const API = 'urn:test:api';
const client = (id, extra) => ({
  client_id: id,
  redirect_uris: [REDIRECT_URI],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  scope: 'openid offline_access email',
  post_logout_redirect_uris: [REDIRECT_URI],
  ...extra,
});

const configuration = {
  clients: [
    client('test-client', { token_endpoint_auth_method: 'none' }),
    client('secret-client', { client_secret: 'test-secret', token_endpoint_auth_method: 'client_secret_basic' }),
  ],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    ...(ACCESS_JWT ? {
      resourceIndicators: {
        enabled: true,
        defaultResource: () => API,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({ scope: 'api:read', accessTokenFormat: 'jwt', accessTokenTTL: Number(process.env.AT_TTL ?? 20) }),
      },
    } : {}),
  },
  scopes: ['openid', 'offline_access', 'email'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  ttl: {
    AccessToken: Number(process.env.AT_TTL ?? 20),
    // Long-lived on purpose: the tests move ssrauth's clock, never this server's, so only the
    // access token's expiry (recorded by ssrauth from expires_in) drives refreshes.
    IdToken: 3600,
    RefreshToken: 86400,
    AuthorizationCode: 60,
    Interaction: 600,
    Session: 86400,
    Grant: 86400,
  },
  rotateRefreshToken: true,
  issueRefreshToken: async (ctx, c, code) => c.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
  findAccount: async (ctx, sub) => ({
    accountId: sub,
    claims: async () => ({ sub, email: `${sub}@example.com`, email_verified: true }),
  }),
  conformIdTokenClaims: false,
  clockTolerance: 0,
  cookies: { keys: ['test-only-cookie-key'] },
};

const provider = new Provider(ISSUER, configuration);
provider.proxy = true;
provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.on('grant.error', (ctx, err) => console.error('grant.error', err.name, '|', err.error_detail));
provider.on('grant.revoked', (ctx, grantId) => console.error('grant.revoked', grantId));

const server = provider.listen(PORT, '127.0.0.1', () => console.log(`listening ${ISSUER}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
