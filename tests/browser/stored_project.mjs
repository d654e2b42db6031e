// The project panel's stored projects: the list offered (only what the page may see), one
// picked, the form filled from its needs, and its matches asked for as stored. Prints one JSON
// object.
// usage: node stored_project.mjs URL SCREENSHOT.png [CHROMIUM]
import { open } from './launch.mjs';

const [url, shot, exe = '/usr/bin/chromium'] = process.argv.slice(2);
const { browser, page, result } = await open(url, exe, { width: 1400, height: 900 });
try {
  result.requests = [];
  page.on('request', (r) => { if (r.url().includes('/projects')) result.requests.push(r.method() + ' ' + new URL(r.url()).pathname); });
  await page.goto(url);
  await page.waitForFunction(() => window.__terriens && window.__terriens.ready, null, { timeout: 60000 });
  await page.waitForSelector('#p-stored-label:not([hidden])', { timeout: 30000 });
  result.options = await page.locator('#p-stored option').allInnerTexts();
  await page.selectOption('#p-stored', { label: 'Scierie stockée' });
  result.material = await page.inputValue('#p-material');
  result.tonnes = await page.inputValue('#p-tonnes');
  await page.click('#project-form button[type=submit]');
  await page.waitForFunction(() => (window.__terriens.matches !== undefined && window.__terriens.ready) || window.__terriens.matchError, null, { timeout: 60000 });
  result.status = await page.evaluate(() => window.__terriens);
  result.items = await page.locator('#matches > li.match').count();
  result.firstItem = result.items ? await page.locator('#matches > li.match').first().innerText() : '';
  await page.screenshot({ path: shot });
} catch (e) {
  result.fatal = String(e && e.stack || e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
