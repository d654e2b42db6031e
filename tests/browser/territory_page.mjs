// Loads the diagnostic page in headless Chromium, waits until it reports it has drawn, checks
// that every chart canvas holds drawn pixels, takes a screenshot (screen) and checks the print
// stylesheet. Prints one JSON object.
// usage: node territory_page.mjs URL SCREENSHOT.png [CHROMIUM]
import { open } from './launch.mjs';

const [url, shot, exe = '/usr/bin/chromium'] = process.argv.slice(2);
const { browser, page, result } = await open(url, exe, { width: 1280, height: 900 });
try {
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
