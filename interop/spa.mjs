// The example browser app (examples/spa), driven through every step by
// headless Chromium (playwright-core), with every request to anything but
// the app's origin, authql and the OpenID provider blocked: sign up, confirm
// through the mailed link, log in, survive a reload from the refresh cookie
// (which the page's own script cannot read), list and revoke sessions,
// upload an avatar, link a provider (npm oidc-provider) and sign in with it
// through PKCE, set up TOTP from the QR code's key, sign up with the
// provider alone, log out.
import { createHmac } from 'node:crypto';
import { PASSWORD, launchChromium, mailedLink, onlyTo, throughProvider } from './common.mjs';

const URL = process.env.AUTHQL_SPA_URL;
const APP = process.env.SPA_URL;
const OP = process.env.OIDC_OP_URL;
const email = 'spa@example.com';

// RFC 6238 with the defaults authenticator apps use (SHA-1, 30 s, 6 digits).
function totp(secret) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

const browser = await launchChromium();
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  const blocked = await onlyTo(page, URL, APP, OP);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const status = (text) => page.locator('#status', { hasText: text }).waitFor({ timeout: 15_000 })
    .catch(async (e) => { throw new Error(`waited for "${text}", the app says "${await page.textContent('#status')}" at ${page.url()}: ${e.message}`); });
  const signedIn = () => page.locator('#me-email', { hasText: email }).waitFor({ timeout: 15_000 });

  await page.goto(APP);
  await page.locator('#signed-out').waitFor();
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await page.click('#signup');
  await status('Check your mail');

  // The mailed link goes to authql, which sends the browser back to the app.
  await page.goto(await mailedLink(email));
  await status('confirmed');
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await page.click('#login');
  await signedIn();

  const seen = await page.evaluate(() => document.cookie);
  if (seen.includes('authql_rt')) throw new Error(`script can read the refresh cookie: ${seen}`);
  const jar = await context.cookies(`${URL}/graphql`);
  const rt = jar.find((c) => c.name === 'authql_rt');
  if (!rt || !rt.httpOnly || rt.sameSite !== 'Strict') throw new Error(`refresh cookie: ${JSON.stringify(jar)}`);

  // A reload forgets the access token; the cookie brings the session back.
  await page.reload();
  await signedIn();

  // Another device signs in; this browser lists it and revokes it.
  const other = await fetch(`${URL}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'another-device' },
    body: JSON.stringify({ query: `mutation { login(input: { email: "${email}", password: "${PASSWORD}" }) { auth { accessToken } } }` }),
  }).then((r) => r.json());
  if (!other.data?.login?.auth) throw new Error(`second login: ${JSON.stringify(other)}`);
  await page.reload();
  await signedIn();
  await page.locator('#sessions tr').nth(1).waitFor();
  await page.click('#sessions button.revoke');
  await status('Session revoked.');
  const rows = await page.locator('#sessions tr').count();
  if (rows !== 1) throw new Error(`${rows} sessions listed after revoking`);

  // An avatar: this very page, as a PNG.
  await page.setInputFiles('#avatar-file', { name: 'me.png', mimeType: 'image/png', buffer: await page.screenshot() });
  await page.click('#upload');
  await status('Avatar updated.');
  const avatar = await page.getAttribute('#avatar', 'src');
  if (!avatar?.startsWith(`${URL}/avatars/`)) throw new Error(`avatar: ${avatar}`);

  // Link the provider: its flow comes back to the app with ?link_code=, which this account completes.
  const callback = `${APP}/oauth/callback?`;
  await throughProvider(page, 'spa-link', callback, () => page.click('#link-providers button.op'));
  await status('Linked op (spa-link@example.com).');
  await page.locator('#identities li[data-provider="op"]').waitFor();

  // Sign in with it: the app's PKCE challenge goes along, and only this tab's verifier redeems the code.
  await page.click('#logout');
  await status('Logged out.');
  const started = page.waitForRequest((r) => r.url().startsWith(`${URL}/auth/op?`));
  await throughProvider(page, 'spa-link', callback, () => page.click('#providers button.op'));
  const start = new globalThis.URL((await started).url());
  if (start.searchParams.get('code_challenge_method') !== 'S256' || start.searchParams.get('code_challenge')?.length !== 43
    || start.searchParams.get('redirect_to') !== `${APP}/oauth/callback`) throw new Error(`provider sign-in started as ${start}`);
  await signedIn();
  const left = await page.evaluate(() => Object.keys(sessionStorage));
  if (left.length) throw new Error(`the app kept ${left} after the sign-in`);
  // A code the app did not ask for (another page sent the browser here) is never traded.
  const traded = [];
  page.on('request', (r) => r.postData()?.includes('exchangeLoginCode') && traded.push(r.url()));
  await page.click('#logout');
  await status('Logged out.');
  await page.goto(`${APP}/oauth/callback?code=planted-by-another-page`);
  await status('This sign-in was not started here');
  if (traded.length) throw new Error('the app traded a code it had not asked for');
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await page.click('#login');
  await signedIn();

  // TOTP: the QR code is shown; the key beside it makes the code.
  await page.click('#setup-totp');
  await page.locator('#totp-qr[src^="data:image/png;base64,"]').waitFor();
  const secret = await page.textContent('#totp-secret');
  await page.screenshot({ path: process.env.SPA_SCREENSHOT, fullPage: true });
  await page.fill('#totp-code', totp(secret));
  await page.click('#totp-form button');
  await status('Two-step verification is on.');
  const codes = (await page.textContent('#recovery-codes')).trim().split(/\s+/);
  if (codes.length !== 10) throw new Error(`recovery codes: ${codes}`);

  // A new account from the provider alone, once it forgets who signed in there.
  await page.click('#logout');
  await status('Logged out.');
  await context.clearCookies({ domain: new globalThis.URL(OP).hostname });
  await throughProvider(page, 'spa-newcomer', callback, () => page.click('#providers button.op'));
  await page.locator('#me-email', { hasText: 'spa-newcomer@example.com' }).waitFor({ timeout: 15_000 });

  await page.click('#logout');
  await status('Logged out.');
  if ((await context.cookies(`${URL}/graphql`)).some((c) => c.name === 'authql_rt')) throw new Error('logout left the refresh cookie');
  await page.reload();
  await page.locator('#signed-out').waitFor();
  if (!(await page.isHidden('#signed-in'))) throw new Error('still signed in after logout and reload');

  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
  // The provider's development pages ask for web fonts: blocked, and not the app's doing.
  const asked = blocked.filter((b) => !b.from.startsWith(OP)).map((b) => b.url);
  if (asked.length) throw new Error(`the app asked outside hosts: ${asked.join(', ')}`);
  console.log(`every step passed; the refresh cookie is HttpOnly and absent from document.cookie; the provider's codes redeemed only with this tab's PKCE verifier; screenshot ${process.env.SPA_SCREENSHOT}`);
} finally {
  await browser.close();
}
