// portal.mjs -- the member portal in a real browser: Debian's Chromium driven by
// playwright-core (no browser is ever downloaded). Opens the page with a valid token,
// clicks a Download link and checks the saved file's SHA-256 against the one the page
// shows; opens the page with a bad token and sees the 403 page; checks that the strict
// CSP blocks nothing the page needs; saves screenshots (desktop, phone, 403) in $OUT.
// Prints TAP-like "ok - ..." / "not ok - ..." lines for tests/integration/t220-browser.sh.
//   PORTAL_URL=<page URL with a valid token> BAD_URL=<same with a bad token> OUT=<dir>
import { chromium } from 'playwright-core';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const { PORTAL_URL, BAD_URL, OUT } = process.env;
let failures = 0;
const ok = (cond, what, detail) => {
  console.log(`${cond ? 'ok' : 'not ok'} - ${what}`);
  if (!cond) {
    failures++;
    if (detail !== undefined) console.log(`#   ${String(detail).slice(0, 400)}`);
  }
};

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const ctx = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));

  const resp = await page.goto(PORTAL_URL);
  ok(resp.status() === 200, 'the portal opens with a valid token', resp.status());
  ok((await page.locator('h1').innerText()).length > 0, 'the page has a title');
  ok(/Last updated/.test(await page.locator('.lede').innerText()), 'the page says when it was last updated');
  const rows = page.locator('#daily tbody tr');
  ok(await rows.count() === 7, 'seven daily files are listed', await rows.count());
  const css = await page.evaluate(() => getComputedStyle(document.querySelector('.btn')).backgroundColor);
  ok(css !== 'rgba(0, 0, 0, 0)', 'the stylesheet is applied under the CSP', css);

  const first = rows.first();
  const shown = (await first.locator('code.sha').innerText()).replace(/\s+/g, '');
  const fname = (await first.locator('.fname').innerText()).trim();
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    first.getByRole('link', { name: 'Download' }).click(),
  ]);
  const path = await download.path();
  const got = createHash('sha256').update(readFileSync(path)).digest('hex');
  ok(got === shown, "the downloaded file's SHA-256 equals the one on the page", `${got} vs ${shown}`);
  ok(download.suggestedFilename() === fname, 'the download is saved under the friendly name',
    `${download.suggestedFilename()} vs ${fname}`);

  const mtd = page.locator('#mtd tbody tr').first();
  const mtdShown = (await mtd.locator('code.sha').innerText()).replace(/\s+/g, '');
  const [d2] = await Promise.all([page.waitForEvent('download'), mtd.getByRole('link', { name: 'Download' }).click()]);
  const got2 = createHash('sha256').update(readFileSync(await d2.path())).digest('hex');
  ok(got2 === mtdShown, 'the month-to-date download matches its SHA-256 too');

  await page.screenshot({ path: join(OUT, 'portal.png'), fullPage: true });
  ok(problems.length === 0, 'no console errors (nothing blocked by the CSP)', problems.join(' | '));

  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
  });
  const pp = await phone.newPage();
  await pp.goto(PORTAL_URL);
  const overflow = await pp.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  ok(overflow <= 0, 'no horizontal scrolling on a phone', overflow);
  await pp.screenshot({ path: join(OUT, 'portal-phone.png'), fullPage: false });
  await phone.close();

  const bad = await page.goto(BAD_URL);
  ok(bad.status() === 403, 'a bad token gets 403', bad.status());
  const text = await page.locator('main').innerText();
  ok(/latest link from the members' post/.test(text), 'the 403 page says to open the latest post', text);
  ok(await page.locator('a.btn').count() === 0, 'the 403 page has no download link');
  await page.screenshot({ path: join(OUT, 'forbidden.png'), fullPage: true });
  await ctx.close();
} catch (e) {
  ok(false, 'browser run', e && e.stack ? e.stack : e);
} finally {
  await browser.close();
}
process.exit(failures ? 1 : 0);
