// The partner manager's console in a real Chromium (issue #13, "Tests"); README.md here says how
// to run it and which page elements it relies on.
//
//   node console.test.mjs TIEUP_BINARY [ARTIFACT_DIR]
//
// The demo's sites (harness.mjs) are created in a temp directory on free loopback ports and main,
// shop-a and shop-b are served on their own; shop-b's approval policy is `manager`, so the demo's
// first publish waits for its manager. One headless Debian Chromium runs the journeys below in
// order (each in a fresh browser context, each signing in again; later ones build on what earlier
// ones did to the sites), keeping a full-page screenshot of every step in
// ARTIFACT_DIR/<journey>/NN-step.png:
//   console_sign_in   shop-b's console asks to sign in; an unknown e-mail and a wrong password
//                     get the same message; signed in, the home page shows the waiting update;
//   console_approve   the update's review (the files it adds, a preview); approved: shop-b's
//                     public port serves the tie-up pages;
//   console_reject    main's manager edits a page and publishes: the open console page shows a
//                     banner without reload; the review's diff table shows the old and the new
//                     line; rejected with a reason, which `tieup main status` shows;
//   console_rollback  main publishes a corrected page; approved, it is live; rolled back (the
//                     confirmation page first), the version live before is live again (not
//                     the rejected one, which was never live); the audit log lists the
//                     sign-ins, the approvals, the rejection and the rollback;
//   console_own_page  a Markdown page /local/news.html with a title: served on shop-b's public
//                     port in main's layout; opened again, its Markdown is there to edit;
//   console_order     a customer (console_order_customer) orders the wagashi box on shop-b's
//                     own page; the manager opens the order and marks it shipped (carrier,
//                     tracking): the order is "shipped";
//   console_sign_out  signed out, the console asks to sign in again, also with the old cookie;
//   console_attacks   a form posted to the console from another origin (main's site, a data:
//                     page) approves nothing; shop-a's console session is not one of shop-b's;
//                     a wrong password five times locks the account ("try again in ...").
// The other console pages have their own test files: console_pages.test.mjs (own pages, emergency
// edits), console_ledger.test.mjs (fee statements, Verify), console_settings.test.mjs (settings,
// home, rollback confirmation, the preview's banner).
import path from 'node:path';
import { after, before, test } from 'node:test';

import { runJourney, waitUntil, yenRe } from './harness.mjs';
import {
  CUSTOMER, HEADING_FIXED, HEADING_REJECTED, HEADING_V1, REJECT_REASON, SHOPB_ORDER, SHOP_A,
  SHOP_B, artifacts, bodyText, browser, clickAndLoad, consoleBasics, expectFlash, expectPath,
  gotoAndLoad, mainPublishesHeading, newContext, notSee, openReview, pathOf, publicText, see,
  shopBPending, signIn, signInError, signedIn, sites, startConsoleSuite, stopConsoleSuite,
  tableUnder, waitPublicHeading, fillCheckout,
} from './console_harness.mjs';

before(async () => { await startConsoleSuite(); });
after(async () => { await stopConsoleSuite(); });

// --- the journeys ---

test('console_sign_in: the sign-in page; wrong password and unknown e-mail; the home page',
     async (t) => {
  await runJourney('console_sign_in', t, await newContext(),
                   path.join(artifacts, 'console_sign_in'), async (j) => {
    const page = j.page;
    await gotoAndLoad(page, sites.consoleUrl('shop-b', '/'));
    await j.shot('sign-in');
    await consoleBasics(j, { who: null });
    await j.must('the console asks to sign in', async () => {
      expectPath(page, '/sign-in');
      await see(page, /^Sign in$/m);
    });
    await j.check('the fields have labels', async () => {
      await page.getByLabel(/e-mail address/i).waitFor();
      await page.getByLabel(/^password/i).waitFor();
    });

    const unknown = await j.must('sign in as an unknown e-mail', () =>
      signIn(page, SHOP_B, { email: 'nobody@shop-b.example', password: 'sakura-demo-1' }));
    await j.shot('unknown-email');
    await consoleBasics(j, { who: null });
    const unknownMessage = await signInError(page);
    await j.check('refused (HTTP 401) with a message', async () => {
      if (unknown?.status() !== 401) throw new Error(`HTTP ${unknown?.status()}`);
      if (!unknownMessage) throw new Error('no message on the page');
    });

    const wrong = await j.must('sign in with a wrong password', () =>
      signIn(page, SHOP_B, { password: 'matcha-demo-2' }));
    await j.shot('wrong-password');
    await consoleBasics(j, { who: null });
    const wrongMessage = await signInError(page);
    await j.check('refused (HTTP 401) with the same message as for an unknown e-mail', async () => {
      if (wrong?.status() !== 401) throw new Error(`HTTP ${wrong?.status()}`);
      if (wrongMessage !== unknownMessage) {
        throw new Error(`"${wrongMessage}" for a wrong password, "${unknownMessage}" for an ` +
                        'unknown e-mail');
      }
    });
    await j.check('the e-mail typed is kept, the password is not', async () => {
      const email = await page.getByLabel(/e-mail address/i).inputValue();
      const password = await page.getByLabel(/^password/i).inputValue();
      if (email !== SHOP_B.email || password !== '') {
        throw new Error(`e-mail "${email}", password "${password}"`);
      }
    });

    await j.must('sign in with the right password', async () => {
      await signIn(page, SHOP_B);
      expectPath(page, '/');
    });
    await j.shot('home');
    await consoleBasics(j, { who: SHOP_B.email });
    await j.check('the home page shows the update waiting for review', async () => {
      await see(page, /Waiting for you/);
      await see(page, /Update u\d+.*version 1 from the main site/);
      await page.getByRole('link', { name: /^review$/i }).first().waitFor();
    });
    await j.check('the home page claims no live version yet', async () => {
      const live = await page.locator('section', { hasText: 'Live now' }).innerText();
      if (/version [1-9]/.test(live)) throw new Error(`it reads "${live}"`);
    });
    await j.check("a link to the site's public address", async () => {
      const href = await page.getByRole('link', { name: sites.url('shop-b', '/') }).getAttribute(
          'href');
      if (href !== sites.url('shop-b', '/')) throw new Error(`the link goes to ${href}`);
    });
  });
});

test('console_approve: review the first update (files, preview), approve, the pages are live',
     async (t) => {
  await runJourney('console_approve', t, await newContext(),
                   path.join(artifacts, 'console_approve'), async (j) => {
    const page = j.page;
    await signedIn(j);
    await j.must('the Review link on the home page', () =>
      clickAndLoad(page, page.getByRole('link', { name: /^review$/i }).first()));
    await j.shot('review');
    await consoleBasics(j, { who: SHOP_B.email });
    const id = pathOf(page).split('/').pop();
    await j.check('the review names the update and what it adds', async () => {
      await see(page, new RegExp(`^Review update ${id}$`, 'm'));
      await see(page, /Version 1 from the main site/);
      await see(page, /16 added, 0 changed, 0 removed/);
      await see(page, /Nothing of it is live until you approve/);
    });
    await j.check('the files list: each page added, with its size', async () => {
      for (const p of ['/index.html', '/products/sencha.html', '/products/gyokuro.html',
                       '/news/index.html', '/assets/style.css']) {
        const card = page.locator('section.file', { has: page.locator('h2 code', {
          hasText: new RegExp(`^${p.replace(/[.]/g, '\\.')}$`) }) });
        if ((await card.count()) !== 1) throw new Error(`${p} is not listed once`);
        const text = await card.innerText();
        if (!/added/.test(text) || !/\d+ → \d+ bytes/.test(text)) {
          throw new Error(`${p} reads "${text.replace(/\s+/g, ' ').slice(0, 120)}"`);
        }
      }
    });
    await j.check('nothing of it is live yet: the public front page is not served', async () => {
      if ((await publicText('/')).includes(HEADING_V1)) throw new Error('it is live already');
    });

    // The preview of the front page as it will look (a new tab: the link opens one).
    const preview = page.locator('section.file', { has: page.locator('h2 code', {
      hasText: /^\/index\.html$/ }) }).getByRole('link', { name: /preview this page/i });
    await j.check('the preview of /index.html shows the page as it will look', async () => {
      const [tab] = await Promise.all([page.context().waitForEvent('page'), preview.click()]);
      await tab.waitForLoadState('load');
      await j.shot('preview', tab);
      await see(tab, new RegExp(HEADING_V1));
      const header = await tab.getByRole('banner').first().innerText();
      if (!header.includes('Sakura Tea') || !header.includes(SHOP_B.name)) {
        throw new Error(`the preview's header reads "${header}"`);
      }
      await tab.close();
    });

    await j.must('Approve', () => clickAndLoad(page, page.locator('#approve')));
    await j.shot('approved');
    await consoleBasics(j, { who: SHOP_B.email });
    await j.check('the Updates page says the update is approved and main told', async () => {
      expectPath(page, '/updates');
      await expectFlash(page, new RegExp(`${id} approved`));
    });
    await j.must("shop-b's public port serves the tie-up pages", () =>
      waitUntil("shop-b's tie-up product page", async () =>
        (await publicText('/products/sencha.html')).includes('Sencha Asahi'),
      { deadlineMs: 30000, everyMs: 200 }));
    await j.check('the update is "live" in the history (reloaded until it is)', () =>
      waitUntil(`${id} live in the history`, async () => {
        await gotoAndLoad(page, sites.consoleUrl('shop-b', '/updates'));
        return (await tableUnder(page, 'History')).some((r) => r[0] === id && r[3] === 'live');
      }, { deadlineMs: 15000, everyMs: 300 }));
    await j.shot('history');
    await j.check('nothing waits any more', async () => {
      await see(page, /Nothing waits for you/);
    });

    const shop = await page.context().newPage();
    await gotoAndLoad(shop, sites.url('shop-b', '/products/sencha.html'));
    await j.shot('public-product', shop);
    await j.check("the public tie-up page in main's layout, with shop-b's name", async () => {
      const header = await shop.getByRole('banner').first().innerText();
      if (!header.includes('Sakura Tea') || !header.includes(SHOP_B.name)) {
        throw new Error(`the header reads "${header}"`);
      }
      await see(shop, /Sencha Asahi/);
      await see(shop, yenRe(1800));
    });
    await shop.close();

    await gotoAndLoad(page, sites.consoleUrl('shop-b', '/'));
    await j.shot('home-live');
    await consoleBasics(j, { who: SHOP_B.email });
    await j.check('the home page: version 1 live, nothing waiting', async () => {
      await see(page, /Tie-up pages from the main site: version 1\b/);
      await see(page, /every update from the main site is handled/);
    });
  });
});

test('console_reject: a banner without reload; the diff; reject with a reason; main sees it',
     async (t) => {
  await runJourney('console_reject', t, await newContext(),
                   path.join(artifacts, 'console_reject'), async (j) => {
    const page = j.page;
    await signedIn(j);
    await j.shot('home-open');
    // Marks this document: a reload or navigation would lose the mark.
    await page.evaluate(() => { window.tieupSameDocument = true; });

    const update = await j.must("main's manager publishes a change to the front page", () =>
      mainPublishesHeading(HEADING_V1, HEADING_REJECTED));
    const banner = page.locator('#live-events .live-event');
    await j.must('a banner appears on the open page', () =>
      banner.first().waitFor({ state: 'visible', timeout: 15000 }));
    await j.shot('banner');
    await j.check('the page was not reloaded', async () => {
      if (!(await page.evaluate(() => window.tieupSameDocument === true))) {
        throw new Error('the page is a new document');
      }
    });
    await j.check('the banner names the update and links to its review', async () => {
      const text = await banner.first().innerText();
      if (!new RegExp(`waits for your review: version ${update.version}\\b`).test(text) ||
          !/0 added, 1 changed, 0 removed/.test(text)) {
        throw new Error(`the banner reads "${text}"`);
      }
      const href = await banner.first().getByRole('link', { name: /open/i }).getAttribute('href');
      if (href !== `/updates/${update.id}`) throw new Error(`its link goes to ${href}`);
    });
    await j.check('one banner for one update', async () => {
      if ((await banner.count()) !== 1) throw new Error(`${await banner.count()} banners`);
    });

    await j.must("the banner's link", () =>
      clickAndLoad(page, banner.first().getByRole('link', { name: /open/i })));
    await j.shot('review');
    await consoleBasics(j, { who: SHOP_B.email });
    await j.check('the review: one page changed, /index.html', async () => {
      await see(page, new RegExp(`^Review update ${update.id}$`, 'm'));
      await see(page, /0 added, 1 changed, 0 removed/);
      const files = await page.locator('section.file h2 code').allInnerTexts();
      if (files.join(' ') !== '/index.html') throw new Error(`files: ${files.join(', ')}`);
    });
    await j.check('the diff table shows the old line beside the new one', async () => {
      const rows = await page.locator('table.diff tbody tr').evaluateAll((trs) => trs.map((tr) => ({
        kind: tr.className,
        left: tr.querySelector('td.left')?.innerText ?? '',
        right: tr.querySelector('td.right')?.innerText ?? '',
      })));
      const changed = rows.filter((r) => r.left.includes(HEADING_V1) &&
                                         r.right.includes(HEADING_REJECTED));
      if (changed.length !== 1) {
        throw new Error(`no one row with "${HEADING_V1}" beside "${HEADING_REJECTED}" ` +
                        `(${rows.length} rows)`);
      }
      if (changed[0].kind !== 'changed') throw new Error(`the row is "${changed[0].kind}"`);
      const headers = await page.locator('table.diff thead th').allInnerTexts();
      if (!headers.includes('Live now') || !headers.includes('After the update')) {
        throw new Error(`the columns are ${headers.join(', ')}`);
      }
    });
    await j.check('a reason is required to reject', async () => {
      if (!(await page.locator('#reason').evaluate((e) => e.validity.valueMissing))) {
        throw new Error('the empty reason is not refused by the form');
      }
    });

    await j.must('type the reason', () => page.getByLabel(/reject it, saying why/i).fill(
        REJECT_REASON));
    await j.shot('reject-reason');
    await j.must('Reject', () => clickAndLoad(page, page.locator('#reject')));
    // main records the rejection with its reason and does not offer that version again by itself
    // (only when it changes, or when main's manager publishes again).
    const mainDir = sites.siteDir('main');
    let statusLine = '';
    const sawReason = await waitUntil("main status showing the rejection's reason", async () => {
      const out = await sites.tieup('main', 'status', mainDir);
      statusLine = out.split('\n').find((l) => l.startsWith('shop-b')) ?? '';
      return statusLine.includes(REJECT_REASON);
    }, { deadlineMs: 20000, everyMs: 200 }).catch((e) => new Error(`${e.message}: "${statusLine}"`));
    await j.shot('rejected');
    await consoleBasics(j, { who: SHOP_B.email });
    await j.check('the Updates page says the update is rejected and main told why', async () => {
      expectPath(page, '/updates');
      await expectFlash(page, new RegExp(`${update.id} rejected`));
    });
    await j.check('the history shows the rejection with its reason', async () => {
      const rows = await tableUnder(page, 'History');
      const row = rows.find((r) => r[0] === update.id);
      if (!row || row[3] !== `rejected: ${REJECT_REASON}`) {
        throw new Error(`the history's row: ${row ? row.join(' | ') : 'none'}`);
      }
    });
    await j.check('`tieup main status` shows the reason', async () => {
      if (sawReason instanceof Error) throw sawReason;
    });
    await j.check('the rejected version is not offered again by itself', async () => {
      const out = await shopBPending();
      if (!out.includes(`You rejected version ${update.version} (update ${update.id})`) ||
          !out.includes(REJECT_REASON) || !out.includes('No update is waiting')) {
        throw new Error(`'tieup partner pending' says: ${out.trim()}`);
      }
    });
    await j.check('the public front page is unchanged', async () => {
      const html = await publicText('/');
      if (!html.includes(`<h1>${HEADING_V1}</h1>`)) throw new Error('the old heading is gone');
    });
  });
});

test('console_rollback: a corrected page approved and live; rolled back; the audit log',
     async (t) => {
  await runJourney('console_rollback', t, await newContext(),
                   path.join(artifacts, 'console_rollback'), async (j) => {
    const page = j.page;
    await signedIn(j);
    // main's manager corrects the front page (from the rejected text) and publishes again.
    const update = await j.must("main's manager publishes the corrected front page", () =>
      mainPublishesHeading(HEADING_REJECTED, HEADING_FIXED));
    await openReview(j, update.id);
    await j.shot('review');
    await consoleBasics(j, { who: SHOP_B.email });
    await j.check('the diff shows the live heading beside the corrected one', async () => {
      const row = page.locator('table.diff tr.changed').filter({ hasText: HEADING_FIXED });
      if ((await row.count()) !== 1) throw new Error('no changed row with the new heading');
      const left = await row.locator('td.left').innerText();
      if (!left.includes(HEADING_V1)) throw new Error(`the live side reads "${left}"`);
    });
    await j.must('Approve', () => clickAndLoad(page, page.locator('#approve')));
    await j.shot('approved');
    await j.check('approved', () => expectFlash(page, new RegExp(`${update.id} approved`)));
    await j.must('the corrected front page is live', () => waitPublicHeading(HEADING_FIXED));
    const shop = await page.context().newPage();
    await gotoAndLoad(shop, sites.url('shop-b', '/'));
    await j.shot('public-corrected', shop);
    await j.check('the public front page shows the corrected heading', () =>
      see(shop, new RegExp(HEADING_FIXED)));

    await gotoAndLoad(page, sites.consoleUrl('shop-b', '/updates'));
    await j.must('the link to roll back', () =>
      clickAndLoad(page, page.getByRole('link', { name: /roll back/i })));
    await j.shot('rollback-confirm');
    await consoleBasics(j, { who: SHOP_B.email });
    await j.check('the confirmation says which version is live and what rolling back does',
                  async () => {
      expectPath(page, '/rollback');
      await see(page, new RegExp(`Version ${update.version} of the tie-up pages is live`));
      await see(page, /previous version live again/);
    });
    await j.must('Roll back now', () => clickAndLoad(page, page.locator('#rollback')));
    await j.shot('rolled-back');
    await consoleBasics(j, { who: SHOP_B.email });
    await j.check('the console says version 1 is live again', () =>
      expectFlash(page, /Rolled back: the tie-up pages of version 1 are live again/));
    // The version live before (1), not the rejected one (2), which was never live.
    await j.check('the previous front page is live again', () => waitPublicHeading(HEADING_V1));
    await gotoAndLoad(shop, sites.url('shop-b', '/'));
    await j.shot('public-previous', shop);
    await j.check('the public front page shows the previous heading', async () => {
      await see(shop, new RegExp(`^${HEADING_V1}$`, 'm'));
      await notSee(shop, new RegExp(HEADING_FIXED));
    });
    await shop.close();

    await gotoAndLoad(page, sites.consoleUrl('shop-b', '/'));
    await j.shot('home');
    await j.check('the home page says version 1 is live', () =>
      see(page, /Tie-up pages from the main site: version 1\b/));

    await j.must('the audit log', () =>
      clickAndLoad(page, page.getByRole('navigation').getByRole('link', { name: 'Audit log' })));
    await j.shot('audit');
    await consoleBasics(j, { who: SHOP_B.email });
    await j.check('the audit log lists sign-in, approve, reject and rollback by the manager',
                  async () => {
      const rows = await page.locator('tbody tr').evaluateAll((trs) => trs.map(
          (tr) => [...tr.cells].map((td) => td.innerText.trim())));
      const by = (action) => rows.filter((r) => r[1] === SHOP_B.email && r[2] === action);
      const missing = [];
      if (by('sign in').length < 4) missing.push('4 sign-ins');
      if (by('update.approve').length < 2) missing.push('2 approvals');
      if (!by('update.reject').some((r) => r[3].includes(REJECT_REASON))) {
        missing.push('the rejection with its reason');
      }
      if (!by('update.rollback').some((r) => r[3] === 'to version 1')) {
        missing.push('the rollback to version 1');
      }
      if (!rows.every((r) => r[4] === '127.0.0.1')) missing.push('the address of each');
      if (missing.length > 0) {
        throw new Error(`missing ${missing.join(', ')} among ${rows.length} rows`);
      }
    });
  });
});

test('console_own_page: a Markdown page at /local/news.html, served in main\'s layout',
     async (t) => {
  await runJourney('console_own_page', t, await newContext(),
                   path.join(artifacts, 'console_own_page'), async (j) => {
    const page = j.page;
    await signedIn(j);
    await j.must('Your pages', () =>
      clickAndLoad(page, page.getByRole('navigation').getByRole('link', { name: 'Your pages' })));
    await j.shot('pages');
    await consoleBasics(j, { who: SHOP_B.email });
    await j.check('the own pages listed: the wagashi page', () =>
      see(page, /\/local\/wagashi\.html/));
    await j.must('New page', () =>
      clickAndLoad(page, page.getByRole('link', { name: /new page/i })));
    await j.shot('new-page');
    await consoleBasics(j, { who: SHOP_B.email });
    await j.must('fill in the page', async () => {
      await page.getByLabel(/^address/i).fill('/local/news.html');
      await page.getByRole('radio', { name: /markdown/i }).check();
      await page.getByLabel(/^title/i).fill('News from Kyoto Leaf');
      await page.getByLabel(/^text/i).fill(
          '# Spring sweets\n\nOur **sakura mochi** are back, from 1 March.\n\n' +
          '- With [our teas](/products/)\n- Only in Kyoto\n');
    });
    await j.shot('filled-in');
    await j.must('Save and publish', () => clickAndLoad(page, page.locator('#save')));
    await j.shot('saved');
    await consoleBasics(j, { who: SHOP_B.email });
    await j.check('saved and live, in the list', async () => {
      expectPath(page, '/pages');
      await expectFlash(page, /Saved \/local\/news\.html: it is live now/);
      await see(page, /\/local\/news\.html/);
    });

    const shop = await page.context().newPage();
    await j.must('the page served on the public port', async () => {
      const answer = await gotoAndLoad(shop, sites.url('shop-b', '/local/news.html'));
      if (answer?.status() !== 200) throw new Error(`HTTP ${answer?.status()}`);
    });
    await j.shot('public-page', shop);
    await j.check("in main's layout: the site header with shop-b's name, the stylesheet",
                  async () => {
      const header = await shop.getByRole('banner').first().innerText();
      if (!header.includes('Sakura Tea') || !header.includes(SHOP_B.name)) {
        throw new Error(`the header reads "${header}"`);
      }
      if ((await shop.locator('link[rel="stylesheet"][href*="/assets/style.css"]').count()) === 0) {
        throw new Error('the page does not use /assets/style.css');
      }
    });
    await j.check('the Markdown rendered: heading, bold, list, link', async () => {
      await see(shop, /^Spring sweets$/m);
      if ((await shop.locator('strong', { hasText: 'sakura mochi' }).count()) !== 1) {
        throw new Error('no bold "sakura mochi"');
      }
      if ((await shop.locator('li').filter({ hasText: 'Only in Kyoto' }).count()) !== 1) {
        throw new Error('no list item "Only in Kyoto"');
      }
      const href = await shop.getByRole('link', { name: 'our teas' }).getAttribute('href');
      if (href !== '/products/') throw new Error(`the link goes to ${href}`);
      await notSee(shop, /\*\*|^# /m);
    });
    await j.check('the title in the browser tab', async () => {
      const title = await shop.title();
      if (!title.includes('News from Kyoto Leaf')) throw new Error(`the title is "${title}"`);
    });
    await shop.close();

    await gotoAndLoad(page, sites.consoleUrl('shop-b', '/pages'));
    const row = page.locator('tr', { hasText: '/local/news.html' });
    await j.must('Edit the page again', () =>
      clickAndLoad(page, row.getByRole('link', { name: /edit/i })));
    await j.shot('edit-again');
    await consoleBasics(j, { who: SHOP_B.email });
    await j.check('its Markdown and title are there to edit', async () => {
      const body = await page.getByLabel(/^text/i).inputValue();
      const title = await page.getByLabel(/^title/i).inputValue();
      if (!body.startsWith('# Spring sweets') || title !== 'News from Kyoto Leaf' ||
          !(await page.getByRole('radio', { name: /markdown/i }).isChecked())) {
        throw new Error(`title "${title}", text "${body.slice(0, 40)}"`);
      }
    });
  });
});

test('console_order: a customer orders the wagashi box; the manager marks it shipped',
     async (t) => {
  let number;
  // The customer, in a browser of their own.
  await runJourney('console_order_customer', t, await newContext(),
                   path.join(artifacts, 'console_order_customer'), async (j) => {
    const page = j.page;
    await gotoAndLoad(page, sites.url('shop-b', '/local/wagashi.html'));
    await j.shot('original-product');
    await j.check('the wagashi at 600', async () => {
      await see(page, /Wagashi of the season/);
      await see(page, yenRe(600));
    });
    await j.must('add to cart', () =>
      clickAndLoad(page, page.getByRole('button', { name: /add to cart/i })));
    await j.shot('cart');
    await j.must('proceed to checkout', () =>
      clickAndLoad(page, page.getByRole('link', { name: /checkout/i })
                             .or(page.getByRole('button', { name: /checkout/i })).first()));
    await j.must('fill in the checkout form', () => fillCheckout(page));
    await j.shot('checkout-filled');
    await j.must('place the order', () =>
      clickAndLoad(page, page.getByRole('button', { name: /place order/i })));
    await j.shot('thank-you');
    await j.must("the thank-you page with shop-b's order number", async () => {
      await see(page, /thank you/i);
      number = (await bodyText(page)).match(SHOPB_ORDER)?.[0];
      if (!number) throw new Error('no SHOPB-NNNNNN on the page');
    });
  });

  await runJourney('console_order', t, await newContext(), path.join(artifacts, 'console_order'),
                   async (j) => {
    const page = j.page;
    await j.must('the customer placed an order', async () => {
      if (!number) throw new Error('no order number (see console_order_customer)');
    });
    await signedIn(j);
    await j.must('Orders', () =>
      clickAndLoad(page, page.getByRole('navigation').getByRole('link', { name: 'Orders' })));
    await j.shot('orders');
    await consoleBasics(j, { who: SHOP_B.email });
    const row = page.locator('tr', { hasText: number });
    await j.check('the order is listed: placed, the customer, 600', async () => {
      const text = await row.innerText();
      if (!/placed/.test(text) || !text.includes(CUSTOMER.name) || !yenRe(600).test(text)) {
        throw new Error(`the row reads "${text}"`);
      }
    });
    await j.must('open the order', () =>
      clickAndLoad(page, row.getByRole('link', { name: number })));
    await j.shot('order');
    await consoleBasics(j, { who: SHOP_B.email });
    await j.check('the order: placed, the wagashi box, the customer and address', async () => {
      await see(page, new RegExp(`^Order ${number}$`, 'm'));
      const status = await page.locator('#order-status').innerText();
      if (status !== 'placed') throw new Error(`status "${status}"`);
      await see(page, /Wagashi of the season \(box\)/);
      await see(page, /WAGASHI-BOX/);
      await see(page, new RegExp(CUSTOMER.name));
      await see(page, /1-2-3 Shijo-dori, 600-8001 Kyoto, Japan/);
    });
    await j.must('fill in the carrier and the tracking number', async () => {
      await page.locator('#carrier').fill('Yamato Transport');
      await page.locator('#tracking').fill('4512-7788-3301');
    });
    await j.shot('ship-filled');
    await j.must('Mark shipped', () => clickAndLoad(page, page.locator('#ship')));
    await j.shot('shipped');
    await consoleBasics(j, { who: SHOP_B.email });
    await j.check('the order page shows "shipped"', async () => {
      expectPath(page, `/orders/${number}`);
      const status = await page.locator('#order-status').innerText();
      if (status !== 'shipped') throw new Error(`status "${status}"`);
    });
    await j.check('the history names the manager and the shipment', async () => {
      await see(page, new RegExp(`shipped .*${SHOP_B.email.replace(/[.]/g, '\\.')}`));
      await see(page, /Yamato Transport/);
      await see(page, /4512-7788-3301/);
    });
    await j.check('no "Mark shipped" any more; "Mark delivered" instead', async () => {
      if ((await page.locator('#ship').count()) > 0) throw new Error('#ship is still there');
      await page.getByRole('button', { name: /mark delivered/i }).waitFor();
    });
    await gotoAndLoad(page, sites.consoleUrl('shop-b', '/orders?status=shipped'));
    await j.shot('orders-shipped');
    await j.check('the list of shipped orders has it', () => see(page, new RegExp(number)));
  });
});

test('console_sign_out: signed out, the console asks to sign in again', async (t) => {
  await runJourney('console_sign_out', t, await newContext(),
                   path.join(artifacts, 'console_sign_out'), async (j) => {
    const page = j.page;
    await signedIn(j);
    await gotoAndLoad(page, sites.consoleUrl('shop-b', '/orders'));
    const cookies = await page.context().cookies(sites.consoleUrl('shop-b'));
    await j.must('Sign out', () =>
      clickAndLoad(page, page.getByRole('button', { name: /^sign out$/i })));
    await j.shot('signed-out');
    await consoleBasics(j, { who: null });
    await j.check('the sign-in page says "You are signed out."', async () => {
      expectPath(page, '/sign-in');
      await see(page, /You are signed out\./);
    });
    await gotoAndLoad(page, sites.consoleUrl('shop-b', '/orders'));
    await j.shot('orders-after');
    await j.check('the orders page asks to sign in again', async () => {
      expectPath(page, '/sign-in');
      await notSee(page, /SHOPB-/);
    });
    // The session cookie from before the sign-out, kept by someone, signs nobody in.
    const other = await newContext();
    try {
      await other.addCookies(cookies);
      const p = await other.newPage();
      await gotoAndLoad(p, sites.consoleUrl('shop-b', '/orders'));
      await j.shot('old-cookie', p);
      await j.check("the old session's cookie asks to sign in", async () => {
        expectPath(p, '/sign-in');
        await notSee(p, /signed in as/i);
      });
    } finally {
      await other.close();
    }
  });
});

test('console_attacks: cross-site form posts, another console\'s session, password guessing',
     async (t) => {
  await runJourney('console_attacks', t, await newContext(),
                   path.join(artifacts, 'console_attacks'), async (j) => {
    const page = j.page;
    await signedIn(j);
    const update = await j.must("main's manager publishes a change that waits at shop-b", () =>
      mainPublishesHeading(HEADING_FIXED, `${HEADING_FIXED}, and more`));
    const target = sites.consoleUrl('shop-b', `/updates/${update.id}`);
    const stillPending = async () => {
      const out = await shopBPending();
      if (!out.includes(`Update ${update.id}:`)) throw new Error(`not pending any more: ${out}`);
    };

    // A page on main's site (another origin on the same host: the browser sends the console's
    // cookie along) posts the approval form, without the session's CSRF token.
    await gotoAndLoad(page, sites.url('main', '/'));
    const forged = await j.must('a form on main\'s page posting "approve" to the console', () =>
      Promise.all([
        page.waitForNavigation({ waitUntil: 'load' }),
        page.evaluate((action) => {
          const form = document.createElement('form');
          form.method = 'post';
          form.action = action;
          for (const [name, value] of [['decision', 'approve'], ['csrf', 'guessed']]) {
            const input = document.createElement('input');
            input.type = 'hidden';
            input.name = name;
            input.value = value;
            form.appendChild(input);
          }
          document.body.appendChild(form);
          form.submit();
        }, target),
      ]).then(([answer]) => answer));
    await j.shot('cross-origin-refused');
    await consoleBasics(j, {});
    await j.check('refused (HTTP 403): "sent from another site"', async () => {
      if (forged?.status() !== 403) throw new Error(`HTTP ${forged?.status()}`);
      await see(page, /This form was sent from another site, so it was refused/);
    });
    await j.check('the update still waits', stillPending);

    // The same from a data: page (a null origin: the cookie stays home, SameSite=Strict).
    const html = '<!doctype html><title>Win a prize</title><form method="post" ' +
                 `action="${target}"><input type="hidden" name="decision" value="approve">` +
                 '<button>Claim</button></form>';
    await gotoAndLoad(page, `data:text/html,${encodeURIComponent(html)}`);
    await j.must('a form on a data: page posting "approve" to the console', () =>
      clickAndLoad(page, page.getByRole('button', { name: 'Claim' })));
    await j.shot('data-page-refused');
    await j.check('not approved: the console refuses or asks to sign in', async () => {
      if (!pathOf(page).startsWith('/sign-in')) {
        await see(page, /sent from another site/);
      }
    });
    await j.check('the update still waits', stillPending);

    // shop-a's console session sent to shop-b's console: both consoles are on 127.0.0.1, so the
    // browser sends shop-a's cookie to shop-b's port.
    const a = await newContext();
    try {
      const p = await a.newPage();
      await j.must("sign in to shop-a's console", async () => {
        await signIn(p, SHOP_A);
        expectPath(p, '/');
      });
      await j.shot('shop-a-console', p);
      await consoleBasics(j, { title: SHOP_A.consoleTitle, who: SHOP_A.email }, p);
      const cookie = (await a.cookies(sites.consoleUrl('shop-a'))).find(
          (c) => c.name.includes('tieup_console'));
      const sent = p.waitForRequest((r) => r.url().startsWith(sites.consoleUrl('shop-b')));
      await gotoAndLoad(p, sites.consoleUrl('shop-b', `/updates/${update.id}`));
      await j.shot('shop-a-session-at-shop-b', p);
      await consoleBasics(j, { who: null }, p);
      await j.check("shop-a's session cookie was sent to shop-b's console", async () => {
        const header = (await (await sent).headerValue('cookie')) ?? '';
        if (!cookie || !header.includes(`${cookie.name}=${cookie.value}`)) {
          throw new Error(`the request's cookies: "${header}"`);
        }
      });
      await j.check("shop-b's console asks to sign in", async () => {
        expectPath(p, '/sign-in');
        const next = new URL(p.url()).searchParams.get('next');
        if (next !== `/updates/${update.id}`) throw new Error(`next=${next}`);
      });
    } finally {
      await a.close();
    }
    await j.check('the update still waits', stillPending);

    // Password guessing: a second manager (so that shop-b's own manager is not locked out) sets
    // a password through the one-time link `tieup partner manager add` prints.
    const clerk = { ...SHOP_B, email: 'clerk@shop-b.example', password: 'kyoto-leaf-counter-7' };
    const added = await j.must('tieup partner manager add --email clerk@shop-b.example', () =>
      sites.tieup('partner', 'manager', 'add', sites.siteDir('shop-b'), '--email', clerk.email,
                  '--name', 'Shop clerk'));
    const link = added.match(/https?:\/\/\S+\/set-password\?token=\S+/)?.[0];
    await j.must('a one-time link to set the password', async () => {
      if (!link) throw new Error(`not in the output: ${added}`);
    });
    const c = await newContext();
    try {
      const p = await c.newPage();
      await gotoAndLoad(p, link);
      await j.shot('set-password', p);
      await consoleBasics(j, { who: null }, p);
      await j.must('set the password', async () => {
        await see(p, new RegExp(clerk.email.replace(/[.]/g, '\\.')));
        await p.getByLabel(/^new password/i).fill(clerk.password);
        await p.getByLabel(/same password again/i).fill(clerk.password);
        await clickAndLoad(p, p.getByRole('button', { name: /set the password/i }));
      });
      await j.shot('password-set', p);
      await j.check('the sign-in page says the password is set, the e-mail filled in', async () => {
        await see(p, /Your password is set/);
        const email = await p.getByLabel(/e-mail address/i).inputValue();
        if (email !== clerk.email) throw new Error(`e-mail "${email}"`);
      });

      const answers = [];
      for (let i = 1; i <= 5; ++i) {
        const r = await j.must(`wrong password ${i}`, () =>
          signIn(p, clerk, { password: `guess-number-${i}` }));
        answers.push([r?.status(), await signInError(p)]);
      }
      await j.shot('locked', p);
      await consoleBasics(j, { who: null }, p);
      await j.check('four refusals, then the fifth locks the account (HTTP 429, "try again in")',
                    async () => {
        const wrong = answers.slice(0, 4).filter(([s, m]) => s === 401 && /wrong/i.test(m));
        const [status, message] = answers[4];
        if (wrong.length !== 4 || status !== 429 || !/try again in \d+ minutes?/i.test(message)) {
          throw new Error(`answers: ${answers.map(([s, m]) => `${s} "${m}"`).join(', ')}`);
        }
      });
      const right = await j.must('the right password while locked', () => signIn(p, clerk));
      await j.shot('locked-right-password', p);
      await j.check('still refused: the page says to wait', async () => {
        expectPath(p, '/sign-in');
        if (right?.status() !== 429) throw new Error(`HTTP ${right?.status()}`);
        if (!/try again in \d+ minutes?/i.test(await signInError(p))) {
          throw new Error(`the message reads "${await signInError(p)}"`);
        }
      });
    } finally {
      await c.close();
    }
    // The lock is the clerk's account: shop-b's manager (same browser address) still signs in.
    const m = await newContext();
    try {
      const p = await m.newPage();
      await j.check("shop-b's manager still signs in", async () => {
        await signIn(p, SHOP_B);
        expectPath(p, '/');
      });
      await j.shot('manager-signs-in', p);
    } finally {
      await m.close();
    }
  });
});
