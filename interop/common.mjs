// Helpers the Node checks share: where authql is, and mail from the sink's folder.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const URL = process.env.AUTHQL_URL;
export const PASSWORD = 'Correct-Horse-Battery-Staple-42';

/** The confirmation link of the first mail to `to` (waits up to 30 s). */
export async function mailedLink(to) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    for (const name of readdirSync(process.env.MAILDIR).filter((n) => n.endsWith('.eml')).sort()) {
      const raw = readFileSync(join(process.env.MAILDIR, name), 'latin1');
      if (!raw.includes(`To: ${to}`)) continue;
      // The text part is 7-bit or quoted-printable; undo soft line breaks first.
      const text = raw.replace(/=\r?\n/g, '').replace(/=3D/g, '=');
      const match = text.match(/https?:\/\/[^\s"<>]+\/confirm\/[A-Za-z0-9_-]+/);
      if (match) return match[0];
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no mail to ${to}`);
}

/** Debian's Chromium, headless, without its own traffic (sync, updates). */
export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/**
 * Blocks every request of `page` outside `allowed` origins; returns the list
 * of what it blocked, each as `{ url, from }` (the address of the page that asked).
 */
export async function onlyTo(page, ...allowed) {
  const blocked = [];
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (allowed.some((origin) => url.startsWith(origin))) return route.continue();
    blocked.push({ url, from: page.url() });
    return route.abort();
  });
  return blocked;
}

/**
 * Runs `start` (a click that sends the browser to a provider) and takes
 * `page` through npm oidc-provider's development pages as `login` (its login
 * form, its consent form, or neither when it remembers both) until the
 * browser comes back to an address starting with `back`.
 */
export async function throughProvider(page, login, back, start) {
  let arrived = false;
  const back_ = page.waitForRequest((r) => r.isNavigationRequest() && r.url().startsWith(back), { timeout: 30_000 });
  back_.then(() => { arrived = true; }, () => {});
  await start();
  const form = (prompt) => page.locator(`form:has(input[name="prompt"][value="${prompt}"]) button[type="submit"]`);
  for (let step = 0; step < 4 && !arrived; step++) {
    const next = await Promise.race([
      back_.then(() => 'back'),
      form('login').waitFor({ timeout: 30_000 }).then(() => 'login'),
      form('consent').waitFor({ timeout: 30_000 }).then(() => 'consent'),
    ].map((p) => p.catch(() => 'timeout')));
    if (next === 'back') break;
    if (next === 'timeout') throw new Error(`stuck at ${page.url()}`);
    const before = page.url();
    if (next === 'login') {
      await page.fill('input[name="login"]', login);
      await page.fill('input[name="password"]', 'anything');
    }
    await form(next).click();
    await page.waitForURL((u) => u.href !== before, { timeout: 20_000 });
  }
  await back_;
}
