// GraphiQL in a real browser: Debian's Chromium, driven by playwright-core, with
// every request to anything but the server blocked. Runs { __typename } through the UI.
import { chromium } from 'playwright-core';
import { URL } from './common.mjs';

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
  const page = await browser.newPage();
  const blocked = [];
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(URL)) return route.continue();
    blocked.push(url);
    return route.abort();
  });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${URL}/graphql`);
  const editor = page.locator('.graphiql-query-editor .CodeMirror').first();
  await editor.waitFor({ timeout: 20_000 });
  await editor.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Backspace');
  await page.keyboard.type('{ __typename }');
  await page.locator('.graphiql-execute-button').click();
  const result = page.locator('.graphiql-response .CodeMirror');
  await result.filter({ hasText: '"Query"' }).waitFor({ timeout: 20_000 });
  await page.screenshot({ path: process.env.SCREENSHOT });
  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
  console.log(`result shown; ${blocked.length} outside requests blocked; screenshot ${process.env.SCREENSHOT}`);
} finally {
  await browser.close();
}
