// What every page test shares: headless Chromium with software GL, a page that records console
// and page errors and refuses (and records) any request outside the server under test.
import { chromium } from 'playwright-core';

export async function open(url, exe, viewport) {
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
  const page = await browser.newPage({ viewport });
  page.on('console', (m) => { if (m.type() === 'error') result.consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => result.pageErrors.push(String(e)));
  page.on('requestfailed', (r) => result.failedRequests.push(r.url()));
  // Anything not served by terriens would need the network: the page must not ask for it.
  await page.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.origin !== new URL(url).origin) {
      result.failedRequests.push('offline: ' + u.href);
      return route.abort();
    }
    return route.continue();
  });
  return { browser, page, result };
}

// Measures a screenshot in a second page: distinct colours and the share of pixels that are not
// the map background (#eef0ea), right of `left` pixels (the side panel).
export async function measure(browser, shot, left = 300) {
  const png = (await import('node:fs')).readFileSync(shot).toString('base64');
  const page = await browser.newPage();
  return page.evaluate(async ([b64, left]) => {
    const img = new Image();
    img.src = 'data:image/png;base64,' + b64;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width; c.height = img.height;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(left, 0, img.width - left, img.height).data;
    const colours = new Set();
    let nonBackground = 0, green = 0;
    for (let i = 0; i < d.length; i += 4) {
      const rgb = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2];
      colours.add(rgb >> 3);
      if (Math.abs(d[i] - 0xee) + Math.abs(d[i + 1] - 0xf0) + Math.abs(d[i + 2] - 0xea) > 24) nonBackground++;
      // the supply lines' #1f6f3a
      if (Math.abs(d[i] - 0x1f) + Math.abs(d[i + 1] - 0x6f) + Math.abs(d[i + 2] - 0x3a) < 40) green++;
    }
    const n = d.length / 4;
    return { width: img.width, height: img.height, distinctColours: colours.size, nonBackgroundRatio: nonBackground / n, supplyGreenRatio: green / n };
  }, [png, left]);
}
