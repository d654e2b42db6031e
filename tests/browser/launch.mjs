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
