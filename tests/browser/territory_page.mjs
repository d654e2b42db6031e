// Loads the diagnostic page in headless Chromium, waits until it reports it has drawn, checks
// that every chart canvas holds drawn pixels, takes a screenshot (screen) and checks the print
// stylesheet. Prints one JSON object.
// usage: node territory_page.mjs URL SCREENSHOT.png [CHROMIUM]
import { chromium } from 'playwright-core';

const [url, shot, exe = '/usr/bin/chromium'] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: exe,
  headless: true,
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist',
  ],
});
const result = { consoleErrors: [], pageErrors: [], failedRequests: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('console', (m) => { if (m.type() === 'error') result.consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => result.pageErrors.push(String(e)));
  page.on('requestfailed', (r) => result.failedRequests.push(r.url()));
  await page.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.origin !== new URL(url).origin) {
      result.failedRequests.push('offline: ' + u.href);
      return route.abort();
    }
    return route.continue();
  });
  await page.goto(url);
  await page.waitForFunction(() => window.__diagnostic && (window.__diagnostic.ready || window.__diagnostic.errors.length), null, { timeout: 60000 });
  await page.waitForFunction(() => window.__diagnostic.mapReady, null, { timeout: 30000 }).catch(() => {});
  const status = await page.evaluate(() => ({
    ready: window.__diagnostic.ready, errors: window.__diagnostic.errors,
    charts: window.__diagnostic.charts, mapReady: !!window.__diagnostic.mapReady,
  }));
  result.status = status;
  // Pixels drawn in each chart canvas (not transparent).
  result.chartPixels = await page.evaluate((ids) => {
    const out = {};
    for (const id of ids) {
      const c = document.getElementById(id);
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
      out[id] = n / (d.length / 4);
    }
    return out;
  }, status.charts || []);
  result.title = await page.locator('#title').innerText();
  result.kpis = await page.locator('.kpi').count();
  await page.screenshot({ path: shot, fullPage: true });
  await page.emulateMedia({ media: 'print' });
  result.printHidesButtons = await page.evaluate(() => getComputedStyle(document.querySelector('nav')).display === 'none');
} catch (e) {
  result.fatal = String(e && e.stack || e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
