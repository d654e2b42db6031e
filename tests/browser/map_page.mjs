// Loads the map page in headless Chromium, waits until the page reports it has drawn,
// takes a screenshot and measures it. Prints one JSON object.
// usage: node map_page.mjs URL SCREENSHOT.png [CHROMIUM]
import { open } from './launch.mjs';

const [url, shot, exe = '/usr/bin/chromium'] = process.argv.slice(2);
const { browser, page, result } = await open(url, exe, { width: 1200, height: 800 });
try {
  await page.goto(url);
  await page.waitForFunction(() => window.__terriens && window.__terriens.ready, null, { timeout: 60000 });
  const status = await page.evaluate(() => window.__terriens);
  result.status = status;
  await page.screenshot({ path: shot });
  // Measure the screenshot: draw it into a 2D canvas and count colours over the map area.
  const png = (await import('node:fs')).readFileSync(shot).toString('base64');
  const page2 = await browser.newPage();
  result.image = await page2.evaluate(async (b64) => {
    const img = new Image();
    img.src = 'data:image/png;base64,' + b64;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width; c.height = img.height;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(300, 0, img.width - 300, img.height).data;
    const colours = new Set();
    let nonBackground = 0;
    for (let i = 0; i < d.length; i += 4) {
      const rgb = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2];
      colours.add(rgb >> 3);
      // background #eef0ea
      if (Math.abs(d[i] - 0xee) + Math.abs(d[i + 1] - 0xf0) + Math.abs(d[i + 2] - 0xea) > 24) nonBackground++;
    }
    return { width: img.width, height: img.height, distinctColours: colours.size, nonBackgroundRatio: nonBackground / (d.length / 4) };
  }, png);
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
