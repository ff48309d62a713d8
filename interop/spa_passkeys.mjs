// Passkeys in the example app (examples/spa) with Chromium's own WebAuthn
// stack and its virtual authenticators (Chrome DevTools Protocol: ctap2,
// internal transport, resident keys, user verification): add a passkey with
// the browser's Level 3 JSON helpers and another without them (the app's
// own conversion), rename, sign in with no email typed by the button and by
// autofill (conditional mediation), delete one.
//
// Chromium answers a conditional request at once when virtual authenticators
// are on, with no autofill list to focus or pick from (it does with
// WebAuthn.enable's enableUI as well): the autofill check shows that the app
// makes a conditional request from a page whose email field says
// `autocomplete="username webauthn"`, and that its answer signs in. For the
// button, the test keeps the app's autofill request from starting, or the
// authenticator would answer that one first.
import { PASSWORD, launchChromium, mailedLink, onlyTo } from './common.mjs';

const URL = process.env.AUTHQL_SPA_URL;
const APP = process.env.SPA_URL;
const email = 'passkeys@example.com';
const NO_JSON_HELPERS = 'interop:no-webauthn-json-helpers';

// What the page asked of navigator.credentials, and with what outcome.
function recordCeremonies(flag) {
  window.ceremonies = [];
  if (sessionStorage.getItem(flag)) {
    delete PublicKeyCredential.parseCreationOptionsFromJSON;
    delete PublicKeyCredential.parseRequestOptionsFromJSON;
    delete PublicKeyCredential.prototype.toJSON;
  }
  for (const call of ['create', 'get']) {
    const original = navigator.credentials[call].bind(navigator.credentials);
    navigator.credentials[call] = (options) => {
      const entry = {
        call,
        mediation: options?.mediation ?? 'optional',
        allowCredentials: options?.publicKey?.allowCredentials?.length ?? 0,
        helpers: Boolean(PublicKeyCredential.parseRequestOptionsFromJSON),
        outcome: 'pending',
      };
      window.ceremonies.push(entry);
      return original(options).then(
        (credential) => { entry.outcome = 'credential'; return credential; },
        (e) => { entry.outcome = e.name; throw e; },
      );
    };
  }
}

// A virtual authenticator that can be put away (removed, its passkeys kept
// with their signature counters) and picked up again.
class Authenticator {
  constructor(cdp) {
    this.cdp = cdp;
    this.credentials = [];
    this.id = null;
  }

  async pickUp() {
    const options = { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true };
    ({ authenticatorId: this.id } = await this.cdp.send('WebAuthn.addVirtualAuthenticator', { options }));
    for (const credential of this.credentials) await this.cdp.send('WebAuthn.addCredential', { authenticatorId: this.id, credential });
  }

  async putAway() {
    ({ credentials: this.credentials } = await this.cdp.send('WebAuthn.getCredentials', { authenticatorId: this.id }));
    await this.cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: this.id });
    this.id = null;
  }
}

const browser = await launchChromium();
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  const blocked = await onlyTo(page, URL, APP);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.addInitScript(recordCeremonies, NO_JSON_HELPERS);
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const laptop = new Authenticator(cdp);
  const phone = new Authenticator(cdp);
  const status = (text) => page.locator('#status', { hasText: text }).waitFor({ timeout: 15_000 })
    .catch(async (e) => { throw new Error(`waited for "${text}", the app says "${await page.textContent('#status')}" at ${page.url()}: ${e.message}`); });
  const signedIn = () => page.locator('#me-email', { hasText: email }).waitFor({ timeout: 15_000 });
  const rows = () => page.locator('#passkeys tr[data-passkey]');
  const ceremonies = () => page.evaluate(() => window.ceremonies);
  const last = async () => (await ceremonies()).at(-1);

  await page.goto(APP);
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await page.click('#signup');
  await status('Check your mail');
  await page.goto(await mailedLink(email));
  await status('confirmed');
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await page.click('#login');
  await signedIn();

  // A passkey on the laptop, through the browser's own JSON helpers.
  await laptop.pickUp();
  await page.click('#add-passkey');
  await status('added.');
  const made = await last();
  if (made.call !== 'create' || made.outcome !== 'credential' || !made.helpers) throw new Error(`registration: ${JSON.stringify(made)}`);
  const [held] = (await cdp.send('WebAuthn.getCredentials', { authenticatorId: laptop.id })).credentials;
  if (!held?.isResidentCredential || held.rpId !== new globalThis.URL(APP).hostname) throw new Error(`the laptop holds ${JSON.stringify(held)}`);
  await laptop.putAway();

  // Another on the phone, named, with the app's own conversion (as in a browser without the helpers).
  await page.evaluate((flag) => sessionStorage.setItem(flag, '1'), NO_JSON_HELPERS);
  await page.reload();
  await signedIn();
  await phone.pickUp();
  await page.fill('#passkey-name', 'Phone');
  await page.click('#add-passkey');
  await status('Passkey “Phone” added.');
  if ((await last()).helpers) throw new Error('the JSON helpers were still there');
  await phone.putAway();
  if ((await rows().count()) !== 2) throw new Error(`${await rows().count()} passkeys listed`);

  await rows().first().locator('input.passkey-name').fill('Laptop');
  await rows().first().locator('button.rename').click();
  await status('Passkey renamed to “Laptop”.');

  // The button, with no email typed, still without the helpers. The app's autofill request is held back.
  await page.route('**/graphql', (route) => (route.request().postData()?.includes('PasskeyAutofill') ? route.abort() : route.fallback()));
  await page.click('#logout');
  await status('Logged out.');
  await laptop.pickUp();
  await page.click('#passkey-signin');
  await signedIn();
  const button = await last();
  if (button.mediation !== 'optional' || button.allowCredentials !== 0 || button.helpers || button.outcome !== 'credential') {
    throw new Error(`button sign-in: ${JSON.stringify(button)}`);
  }
  await page.unroute('**/graphql');
  await page.evaluate((flag) => sessionStorage.removeItem(flag), NO_JSON_HELPERS);

  // Autofill: the signed-out page makes a conditional request, and the laptop's answer signs in.
  if ((await page.getAttribute('#email', 'autocomplete')) !== 'username webauthn') throw new Error('the email field offers no passkeys');
  await page.click('#logout');
  await page.waitForFunction(() => window.ceremonies.some((c) => c.mediation === 'conditional' && c.outcome === 'credential'));
  await status('Welcome');
  await signedIn();
  const autofill = await last();
  if (autofill.mediation !== 'conditional' || autofill.allowCredentials !== 0 || autofill.outcome !== 'credential') {
    throw new Error(`autofill sign-in: ${JSON.stringify(autofill)}`);
  }
  if (await page.inputValue('#email')) throw new Error('an email was typed');

  await rows().nth(1).locator('button.delete').click();
  await status('Passkey “Phone” deleted.');
  if ((await rows().count()) !== 1) throw new Error(`${await rows().count()} passkeys after deleting one`);
  const about = await rows().first().textContent();
  if (!about.includes('last used') || about.includes('last used never')) throw new Error(`the laptop's passkey: ${about}`);
  await page.screenshot({ path: process.env.SPA_PASSKEYS_SCREENSHOT, fullPage: true });

  // Without an authenticator at hand, a signed-out page stays signed out.
  await laptop.putAway();
  await page.click('#logout');
  await status('Logged out.');
  await page.reload();
  await page.locator('#signed-out').waitFor();

  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
  if (blocked.length) throw new Error(`the app asked outside hosts: ${blocked.map((b) => b.url).join(', ')}`);
  console.log('two passkeys added (with and without the JSON helpers), renamed, one deleted; signed in without an email by button and by autofill (conditional mediation)');
} finally {
  await browser.close();
}
