// stats.mjs -- the /admin/stats dashboard in Debian's Chromium (playwright-core; no
// browser is downloaded): logs in with the admin key, opens the page at 1280 px and on
// a phone, checks the four charts (inline SVG with bars), the pulse and the tables,
// that the strict CSP blocked nothing, and saves screenshots in $OUT.
// Prints "ok - ..." / "not ok - ..." lines for tests/integration/t420-stats-browser.sh.
//   BASE=<http://127.0.0.1:port> ADMIN=<admin key> OUT=<dir>
import { chromium } from 'playwright-core';

const { BASE, ADMIN, OUT } = process.env;
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
  for (const [name, viewport] of [['desktop', { width: 1280, height: 900 }],
    ['phone', { width: 390, height: 844 }]]) {
    const ctx = await browser.newContext({ viewport, deviceScaleFactor: 1 });
    const page = await ctx.newPage();
    const problems = [];
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
    page.on('pageerror', (e) => problems.push(String(e)));
    await page.goto(`${BASE}/admin`);
    await page.fill('input[name=key]', ADMIN);
    await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
    const resp = await page.goto(`${BASE}/admin/stats`);
    ok(resp.status() === 200, `${name}: /admin/stats opens after login`, resp.status());
    const captions = await page.locator('figure.chart figcaption').allInnerTexts();
    const want = ['Downloads per day', 'Unique visitors per day', 'Bytes served per day',
      'Rejected tokens per day'];
    ok(want.every((w) => captions.some((c) => c.startsWith(w))), `${name}: the four charts`, captions.join(' | '));
    const svgs = await page.locator('figure.chart svg[role=img]').count();
    ok(svgs === 4, `${name}: four inline SVG charts`, svgs);
    const bars = await page.locator('figure.chart svg[role=img] rect').count();
    ok(bars > 60, `${name}: the charts have bars (${bars})`, bars);
    const pulse = await page.locator('.pulse').innerText();
    ok(/Requests/.test(pulse) && /Visitors/.test(pulse), `${name}: the pulse is at the top`, pulse);
    const tops = await page.locator('table.files tbody tr').count();
    ok(tops >= 3, `${name}: top files, tokens and referrers are listed`, tops);
    // nothing wider than the viewport (readable on a phone)
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    ok(overflow <= 1, `${name}: no horizontal scrolling`, overflow);
    ok(problems.length === 0, `${name}: no console errors or CSP violations`, problems.join(' | '));
    await page.screenshot({ path: `${OUT}/stats-${name}.png`, fullPage: true });
    await ctx.close();
  }
} catch (e) {
  ok(false, 'the browser script ran to the end', e.stack || e);
} finally {
  await browser.close();
}
process.exit(failures ? 1 : 0);
