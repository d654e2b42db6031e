// The project panel of the map page: fills the needs of a project, asks for the matches, waits
// for the ranked sites, takes a screenshot and measures it. Prints one JSON object.
// usage: node project_panel.mjs URL SCREENSHOT.png [CHROMIUM]
import { open, measure } from './launch.mjs';

const [url, shot, exe = '/usr/bin/chromium'] = process.argv.slice(2);
const { browser, page, result } = await open(url, exe, { width: 1400, height: 900 });
try {
  await page.goto(url);
  await page.waitForFunction(() => window.__terriens && window.__terriens.ready, null, { timeout: 60000 });
  // Pick an example project, then change one need by hand, as a user would.
  await page.selectOption('#p-example', 'Sawmill and wood panels');
  await page.fill('#p-tonnes', '300');
  await page.click('#project-form button[type=submit]');
  // The matches are listed and the map has drawn them (the page is ready again at its next idle).
  await page.waitForFunction(() => (window.__terriens.matches !== undefined && window.__terriens.ready) || window.__terriens.matchError, null, { timeout: 60000 });
  result.status = await page.evaluate(() => window.__terriens);
  result.items = await page.locator('#matches > li.match').count();
  result.bars = await page.locator('#matches .bar').count();
  result.firstItem = result.items ? await page.locator('#matches > li.match').first().innerText() : '';
  await page.locator('#matches details').first().click();
  result.firstReasons = result.items ? await page.locator('#matches details').first().innerText() : '';
  result.projectStatus = await page.locator('#project-status').innerText();
  await page.screenshot({ path: shot });
  result.image = await measure(browser, shot);
} catch (e) {
  result.fatal = String(e && e.stack || e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
