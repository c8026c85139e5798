// The partner manager's own ads (issue 15 item 8), in a real Chromium:
//
//   node console_ads.test.mjs TIEUP_BINARY [ARTIFACT_DIR]
//
// The demo's sites (console_harness.mjs); shop-a serves main's pages, whose layout has a slot
// for main's ads and one for the shop's own. One journey, a full-page screenshot of every step
// in ARTIFACT_DIR/console_ads/NN-step.png: the Ads page lists the shop's ad (from the demo) and
// main's; a new ad with a link that is not an address is refused, saying so, with what was
// typed kept; corrected, it is saved and shop-a's ad slot shows it; the demo's ad is removed.
import path from 'node:path';
import { after, before, test } from 'node:test';

import { runJourney, waitUntil } from './harness.mjs';
import {
  SHOP_A, artifacts, clickAndLoad, consoleBasics, expectFlash, gotoAndLoad, newContext, see,
  signedIn, sites, startConsoleSuite, stopConsoleSuite,
} from './console_harness.mjs';

before(async () => { await startConsoleSuite('console-ads-logs'); });
after(async () => { await stopConsoleSuite(); });

const NEW_AD = 'Local honey week: every jar 10% off';

// What shop-a's partner slot shows over `n` showings (in turn).
async function ownAdsShown(n) {
  let all = '';
  for (let i = 0; i < n; ++i) {
    const r = await fetch(sites.url('shop-a', '/tieup-ad/partner'),
                          { signal: AbortSignal.timeout(2000) });
    all += await r.text();
  }
  return all;
}

test('console_ads: the shop adds, corrects and removes its own ads', async (t) => {
  await runJourney('console_ads', t, await newContext(), path.join(artifacts, 'console_ads'),
                   async (j) => {
    const page = j.page;
    await signedIn(j, SHOP_A);
    await j.must('the Ads page from the navigation', () =>
      clickAndLoad(page, page.getByRole('navigation').getByRole('link', { name: 'Ads',
                                                                          exact: true })));
    await j.shot('ads');
    await consoleBasics(j, { title: SHOP_A.consoleTitle });
    await j.check("the shop's ad from the demo, in the form", async () => {
      const text = await page.getByLabel('What it says').first().inputValue();
      if (!/wagashi of the season/.test(text)) throw new Error(`the first ad says "${text}"`);
    });
    await j.check("main's ads, listed", async () => {
      await see(page, /Gyokuro Kin: three weeks in the shade/);
      await see(page, /Hojicha Roast/);
    });

    await j.must('a new ad with a link that is not an address', async () => {
      await page.locator('#new_text').fill(NEW_AD);
      await page.locator('#new_link').fill('honey page');
      await clickAndLoad(page, page.getByRole('button', { name: 'Save your ads' }));
    });
    await j.shot('refused');
    await j.check('refused, saying what to correct, with what was typed kept', async () => {
      await see(page, /Not saved: .*'link' must be a path of this site/);
      await see(page, /Nothing was changed/);
      if ((await page.locator('#new_text').inputValue()) !== NEW_AD) {
        throw new Error('the text typed is gone');
      }
    });
    await j.must('corrected and saved', async () => {
      await page.locator('#new_link').fill('/local/index.html');
      await clickAndLoad(page, page.getByRole('button', { name: 'Save your ads' }));
      await expectFlash(page, /Saved: 2 ads, "Local honey week: every jar 10% off" added/);
    });
    await j.shot('saved');
    await j.must("shop-a's ad slot shows the new ad", () =>
      waitUntil('the new ad in the slot', async () => (await ownAdsShown(2)).includes(NEW_AD),
                { deadlineMs: 20000, everyMs: 200 }));
    await j.must('a visitor sees it on a page', async () => {
      const visitor = await (await newContext()).newPage();
      try {
        for (let i = 0; i < 4; ++i) {
          await gotoAndLoad(visitor, sites.url('shop-a', '/news/'));
          const said = await visitor.frameLocator('iframe.tieup-ad-partner').getByRole('link')
              .innerText({ timeout: 5000 });
          if (said.includes('Local honey week')) {
            await visitor.screenshot({ path: path.join(artifacts, 'console_ads', 'visitor.png') });
            return;
          }
        }
        throw new Error('four page views without the new ad');
      } finally {
        await visitor.context().close();
      }
    });

    await j.must("the demo's ad removed", async () => {
      await gotoAndLoad(page, sites.consoleUrl('shop-a', '/ads'));
      await page.locator('#ad-0').getByLabel('Remove this ad').check();
      await clickAndLoad(page, page.getByRole('button', { name: 'Save your ads' }));
      await expectFlash(page, /Saved: 1 ad, 1 removed/);
    });
    await j.shot('removed');
    await j.check('only the new ad is left', async () => {
      if ((await page.locator('fieldset.ad').count()) !== 2) throw new Error('not one ad and the new row');
      if ((await page.locator('#text_0').inputValue()) !== NEW_AD) throw new Error('not the new ad');
    });
    await j.must('the slot no longer shows the removed ad', () =>
      waitUntil('only the new ad in the slot', async () => {
        const shown = await ownAdsShown(2);
        return shown.includes(NEW_AD) && !shown.includes('wagashi of the season');
      }, { deadlineMs: 20000, everyMs: 200 }));
  });
});
