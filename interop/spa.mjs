// The example browser app (examples/spa), driven through every step by
// headless Chromium (playwright-core), with every request to anything but
// the app's origin and authql blocked: sign up, confirm through the mailed
// link, log in, survive a reload from the refresh cookie (which the page's
// own script cannot read), list and revoke sessions, upload an avatar, set
// up TOTP from the QR code's key, log out.
import { createHmac } from 'node:crypto';
import { chromium } from 'playwright-core';
import { PASSWORD, mailedLink } from './common.mjs';

const URL = process.env.AUTHQL_SPA_URL;
const APP = process.env.SPA_URL;
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

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const blocked = [];
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(URL) || url.startsWith(APP)) return route.continue();
    blocked.push(url);
    return route.abort();
  });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const status = (text) => page.locator('#status', { hasText: text }).waitFor({ timeout: 15_000 });
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

  await page.click('#logout');
  await status('Logged out.');
  if ((await context.cookies(`${URL}/graphql`)).some((c) => c.name === 'authql_rt')) throw new Error('logout left the refresh cookie');
  await page.reload();
  await page.locator('#signed-out').waitFor();
  if (!(await page.isHidden('#signed-in'))) throw new Error('still signed in after logout and reload');

  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
  if (blocked.length) throw new Error(`the app asked outside hosts: ${blocked.join(', ')}`);
  console.log(`every step passed; the refresh cookie is HttpOnly and absent from document.cookie; screenshot ${process.env.SPA_SCREENSHOT}`);
} finally {
  await browser.close();
}
