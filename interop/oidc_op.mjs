// npm oidc-provider (OpenID Certified) as the provider authql signs in with,
// on loopback. Its development interactions give real login and consent pages.
// usage: node oidc_op.mjs PORT REDIRECT_URI[,REDIRECT_URI…]; prints "ready" when listening.
import Provider from 'oidc-provider';

const [port, redirectUris] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const oidc = new Provider(issuer, {
  clients: [{
    client_id: 'authql-interop',
    client_secret: 'interop-provider-secret',
    redirect_uris: redirectUris.split(','),
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  // Whoever logs in on the development login page is `${login}@example.com`, verified.
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: `${id}@example.com`, email_verified: true };
      },
    };
  },
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['interop-cookie-key-0123456789'] },
});
oidc.listen(Number(port), '127.0.0.1', () => console.log('ready'));
