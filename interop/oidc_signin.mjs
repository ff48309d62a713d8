// Sign in with npm oidc-provider in a real browser: Debian's Chromium, driven
// by playwright-core, with every request to anything but authql and the
// provider blocked. It goes through the provider's login and consent pages
// and ends with a working authql session. The app's side of PKCE (S256) binds
// the login code: it redeems only with the verifier.
import { createHash, randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';
import { GraphQLClient, gql } from 'graphql-request';

const URL = process.env.AUTHQL_OIDC_URL;
const OP = process.env.OIDC_OP_URL;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
let code;
let blocked = [];
const verifier = randomBytes(32).toString('base64url');
const challenge = createHash('sha256').update(verifier).digest('base64url');
try {
  const page = await browser.newPage();
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(URL) || url.startsWith(OP)) return route.continue();
    blocked.push(url);
    return route.abort();
  });
  const providers = await new GraphQLClient(`${URL}/graphql`).request(gql`{ oauthProviders { name authorizeUrl } }`);
  const op = providers.oauthProviders.find((p) => p.name === 'op');
  if (!op) throw new Error(`provider not listed: ${JSON.stringify(providers)}`);
  await page.goto(`${op.authorizeUrl}?code_challenge=${challenge}&code_challenge_method=S256`);
  // The provider's own login page, then its consent page.
  await page.locator('input[name="login"]').fill('oidc-interop');
  await page.locator('input[name="password"]').fill('anything');
  await page.locator('button[type="submit"]').click();
  await page.locator('button[type="submit"]').click({ timeout: 20_000 });
  await page.waitForURL(`${URL}/oauth/callback**`, { timeout: 20_000 });
  const landed = new globalThis.URL(page.url());
  code = landed.searchParams.get('code');
  if (!code) throw new Error(`no code at ${page.url()}`);
} finally {
  await browser.close();
}
const client = new GraphQLClient(`${URL}/graphql`);
const traded = await client.request(
  gql`mutation($c: String!, $v: String) { exchangeLoginCode(code: $c, codeVerifier: $v) { auth { accessToken } } }`,
  { c: code, v: verifier },
);
const me = await new GraphQLClient(`${URL}/graphql`, { headers: { authorization: `Bearer ${traded.exchangeLoginCode.auth.accessToken}` } })
  .request(gql`{ me { email emailVerified providers } }`);
if (me.me.email !== 'oidc-interop@example.com' || !me.me.emailVerified) throw new Error(`unexpected account ${JSON.stringify(me)}`);
// The provider's development pages ask for web fonts: blocked like anything off loopback.
console.log(`logged in at oidc-provider, consented, and traded the PKCE-bound code for a session for ${me.me.email} (providers ${me.me.providers.join(', ')}); ${blocked.length} outside requests blocked`);
