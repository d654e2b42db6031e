// Loads the map page in headless Chromium, waits until the page reports it has drawn,
// takes a screenshot and measures it. Prints one JSON object.
// usage: node map_page.mjs URL SCREENSHOT.png [CHROMIUM]
import { open, measure } from './launch.mjs';

const [url, shot, exe = '/usr/bin/chromium'] = process.argv.slice(2);
const { browser, page, result } = await open(url, exe, { width: 1200, height: 800 });
try {
  await page.goto(url);
  await page.waitForFunction(() => window.__terriens && window.__terriens.ready, null, { timeout: 60000 });
  const status = await page.evaluate(() => window.__terriens);
  result.status = status;
  await page.screenshot({ path: shot });
  result.image = await measure(browser, shot);
  // A popup opens on a feature click.
  const box = await page.locator('#map canvas').boundingBox();
  result.popup = false;
  if (box) {
    const pt = status.samplePoint;
    if (pt) {
      await page.mouse.click(box.x + pt[0], box.y + pt[1]);
      await page.waitForSelector('.maplibregl-popup', { timeout: 5000 }).catch(() => {});
      result.popup = (await page.locator('.maplibregl-popup').count()) > 0;
      result.popupText = result.popup ? await page.locator('.maplibregl-popup').innerText() : '';
    }
  }
} catch (e) {
  result.fatal = String(e && e.stack || e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
