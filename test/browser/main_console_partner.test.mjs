// A partner's page in main's console (issue #14 item 2), in a real Chromium against the demo's
// sites (console_harness.mjs):
//
//   node main_console_partner.test.mjs TIEUP_BINARY [ARTIFACT_DIR]
//
// Each journey runs in a fresh browser context and keeps a full-page screenshot of every step in
// ARTIFACT_DIR/<journey>/NN-step.png:
//   main_console_partner_settings   shop-a's page from the partners table: its state in words;
//                                   its schedule changed (the page and `tieup main partner ls`
//                                   show it); a bad retry policy refused next to its field with
//                                   what was typed kept; Publish now; a change made on the
//                                   command line shown live; the audit log;
//   main_console_partner_retry      shop-a's server down: Publish now fails, says why and offers
//                                   Retry; the server back, Retry delivers the new version;
//   main_console_partner_suspend    shop-a suspended and resumed, each after a confirmation page
//                                   saying what happens (`tieup main status` says "suspended");
//                                   a new enrollment code shown once;
//   main_console_partner_revoke     shop-b revoked after its confirmation: "revoked";
//   main_console_partner_copy       the customer data shop-a may keep: Name and E-mail ticked,
//                                   saved (the flash and `tieup main partner ls` say so).
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { runJourney } from './harness.mjs';
import {
  MAIN, artifacts, clickAndLoad, consoleBasics, expectFlash, expectPath, gotoAndLoad,
  newContext, see, signedIn, sites, startConsoleSuite, stopConsoleSuite,
} from './console_harness.mjs';

const NAV = ['Partners', 'Publish', 'Content', 'Orders', 'Products', 'Users', 'Ledger & fees',
             'Managers', 'Audit log'];
const basics = (j) => consoleBasics(j, { title: MAIN.consoleTitle, who: MAIN.email, nav: NAV });
const mainDir = () => sites.siteDir('main');

before(async () => { await startConsoleSuite('main-console-partner-logs'); });
after(async () => { await stopConsoleSuite(); });

async function openPartner(j, id) {
  await j.must(`open ${id}'s page`, async () => {
    await gotoAndLoad(j.page, sites.consoleUrl('main', `/partners/${id}`));
    expectPath(j.page, `/partners/${id}`);
  });
}

test('main_console_partner_settings: state, schedule, a refused retry policy, publish now',
     async (t) => {
  await runJourney('main_console_partner_settings', t, await newContext(),
                   path.join(artifacts, 'main_console_partner_settings'), async (j) => {
    const page = j.page;
    await signedIn(j, MAIN);
    await j.must("shop-a's page from the partners table", async () => {
      await gotoAndLoad(page, sites.consoleUrl('main', '/'));
      const row = page.locator('tr[data-partner="shop-a"]');
      await clickAndLoad(page, row.getByRole('link', { name: 'shop-a', exact: true }));
      expectPath(page, '/partners/shop-a');
    });
    await j.shot('shop-a', page);
    await basics(j);
    await j.check('its name, its facts and its state in words, as `tieup main status`', async () => {
      await see(page, /Tea House Asahi/);
      await see(page, /Osaka/);
      const status = await sites.tieup('main', 'status', mainDir());
      const words = status.match(/^shop-a\s+\d+\s+\d+\s+\S+\s+(.*)$/m)?.[1]?.trim();
      if (!words) throw new Error(`main status: ${status}`);
      const shown = (await page.locator('#state-summary').innerText()).trim();
      if (shown !== words) throw new Error(`the page says "${shown}", main status "${words}"`);
    });
    await j.check('its timeline has the partnership and its updates', async () => {
      await see(page, /partnership added/);
      await see(page, /activated/, { scope: page.locator('#updates') });
    });

    await j.must('change the schedule to every night at 3', async () => {
      await page.getByLabel('Schedule', { exact: true }).fill('0 3 * * *');
      await clickAndLoad(page, page.getByRole('button', { name: /save the settings/i }));
    });
    await j.shot('schedule-saved', page);
    await j.check('saved: the message, the page and `tieup main partner ls` say so', async () => {
      expectPath(page, '/partners/shop-a');
      await expectFlash(page, /schedule: \(manual\) -> '0 3 \* \* \*'/);
      await see(page, /0 3 \* \* \*/, { scope: page.locator('#fact-schedule') });
      const ls = await sites.tieup('main', 'partner', 'ls', mainDir());
      if (!/^shop-a\s+contents\s+auto\s+\S+\s+0 3 \* \* \*/m.test(ls)) throw new Error(ls);
    });
    await j.check('the timeline records who changed it', () =>
      see(page, /settings changed by manager@main\.example: schedule/));

    await j.must('enter a bad retry policy', async () => {
      await page.getByLabel('Retry policy', { exact: true }).fill('sometimes');
      await page.getByLabel('Schedule', { exact: true }).fill('@every 2h');
      await clickAndLoad(page, page.getByRole('button', { name: /save the settings/i }));
    });
    await j.shot('retry-refused', page);
    await j.check('refused next to its field, with what was typed kept, nothing saved',
                  async () => {
      await see(page, /Not saved/);
      await see(page, /retry policy 'sometimes'/, { scope: page.locator('#f-retry-error') });
      const field = page.getByLabel('Retry policy', { exact: true });
      if ((await field.inputValue()) !== 'sometimes') throw new Error('the typed value is gone');
      if ((await field.getAttribute('aria-invalid')) !== 'true') throw new Error('not marked');
      if ((await page.getByLabel('Schedule', { exact: true }).inputValue()) !== '@every 2h') {
        throw new Error('the schedule typed with it is gone');
      }
      const ls = await sites.tieup('main', 'partner', 'ls', mainDir());
      if (!/^shop-a\s+contents\s+auto\s+\S+\s+0 3 \* \* \*/m.test(ls)) throw new Error(ls);
    });
    await basics(j);

    await j.must('Publish now', async () => {
      await gotoAndLoad(page, sites.consoleUrl('main', '/partners/shop-a'));
      await clickAndLoad(page, page.getByRole('button', { name: 'Publish now', exact: true }));
    });
    await j.shot('published', page);
    await j.check("the run's result for shop-a, and its state", async () => {
      expectPath(page, '/partners/shop-a');
      await expectFlash(page, /Publish now: main: .*shop-a\s+version \d+\s+(up_to_date|activated)/);
      await see(page, /up to date at version \d+/, { scope: page.locator('#state-summary') });
    });
    await j.check('a change from the command line reaches the open page without a reload',
                  async () => {
      await page.evaluate(() => { window.notReloaded = true; });
      await sites.tieup('main', 'partner', 'set', mainDir(), 'shop-a', '--var', 'greeting=Hello');
      await see(page, /settings changed by command line .*variables: \(none\) -> greeting=Hello/,
                { scope: page.locator('#timeline'), timeout: 15000 });
      if (!(await page.evaluate(() => window.notReloaded))) throw new Error('the page reloaded');
    });
    await j.shot('changed-live', page);
    await j.check('usable on a phone: nothing wider than a 390 px window', async () => {
      await page.setViewportSize({ width: 390, height: 844 });
      try {
        const [scroll, width] = await page.evaluate(
            () => [document.documentElement.scrollWidth, window.innerWidth]);
        await j.shot('phone', page);
        if (scroll > width) throw new Error(`the page is ${scroll} px wide in ${width} px`);
      } finally {
        await page.setViewportSize({ width: 1024, height: 768 });
      }
    });
    await j.check('the audit log has the change and the publish', async () => {
      await gotoAndLoad(page, sites.consoleUrl('main', '/audit'));
      await see(page, /partner\.settings/);
      await see(page, /partner\.publish/);
    });
  });
});

test('main_console_partner_retry: a failed publish, then Retry', async (t) => {
  await runJourney('main_console_partner_retry', t, await newContext(),
                   path.join(artifacts, 'main_console_partner_retry'), async (j) => {
    const page = j.page;
    await signedIn(j, MAIN);
    await j.must("shop-a's server stops, and main has a new page for it", async () => {
      await sites.stop('shop-a');
      fs.writeFileSync(path.join(mainDir(), 'authoring', 'pages', 'retry-news.md'),
                       '---\ntitle: News\n---\n# Autumn tea has arrived\n');
    });
    await openPartner(j, 'shop-a');
    await j.must('Publish now', () =>
      clickAndLoad(page, page.getByRole('button', { name: 'Publish now', exact: true })));
    await j.shot('failed', page);
    await j.check('it failed, says why, and offers Retry', async () => {
      await expectFlash(page, /Publish now failed: .*shop-a\s+FAILED: /);
      await see(page, /^failed: /, { scope: page.locator('#state-summary') });
      if ((await page.getByRole('button', { name: 'Retry', exact: true }).count()) !== 1) {
        throw new Error('no Retry button');
      }
    });
    await basics(j);
    await j.must("shop-a's server is back", () => sites.start('shop-a'));
    await j.must('Retry', () =>
      clickAndLoad(page, page.getByRole('button', { name: 'Retry', exact: true })));
    await j.shot('retried', page);
    await j.check('the new version is live at shop-a', async () => {
      // The daemon's own retry (10 s after the failure) may have delivered it first.
      await expectFlash(page, /^Retry: .*shop-a\s+version \d+\s+(activated|up_to_date)/);
      await see(page, /up to date at version \d+/, { scope: page.locator('#state-summary') });
      const r = await fetch(sites.url('shop-a', '/retry-news.html'));
      if (!r.ok || !(await r.text()).includes('Autumn tea has arrived')) {
        throw new Error(`shop-a answers ${r.status} for /retry-news.html`);
      }
    });
  });
});

test('main_console_partner_suspend: suspend and resume with confirmation; an enrollment code',
     async (t) => {
  await runJourney('main_console_partner_suspend', t, await newContext(),
                   path.join(artifacts, 'main_console_partner_suspend'), async (j) => {
    const page = j.page;
    await signedIn(j, MAIN);
    await openPartner(j, 'shop-a');
    await j.must('Suspend…', () => clickAndLoad(page, page.locator('#suspend')));
    await j.shot('confirm-suspend', page);
    await j.check('the confirmation says what happens', async () => {
      expectPath(page, '/partners/shop-a/suspend');
      await see(page, /Suspend Tea House Asahi \(shop-a\)\?/);
      await see(page, /no updates while suspended/);
      await see(page, /keeps its certificate/);
    });
    await basics(j);
    await j.must('confirm', () =>
      clickAndLoad(page, page.getByRole('button', { name: 'Suspend the partnership' })));
    await j.shot('suspended', page);
    await j.check('"suspended" on the page and in `tieup main status`', async () => {
      expectPath(page, '/partners/shop-a');
      await expectFlash(page, /Suspended shop-a/);
      await see(page, /suspended since/, { scope: page.locator('#state-summary') });
      if ((await page.getByRole('button', { name: 'Publish now', exact: true }).count()) !== 0) {
        throw new Error('Publish now is offered for a suspended partner');
      }
      const status = await sites.tieup('main', 'status', mainDir());
      if (!/^shop-a\s.*suspended since/m.test(status)) throw new Error(status);
    });
    await j.must('Resume…', () => clickAndLoad(page, page.locator('#resume')));
    await j.shot('confirm-resume', page);
    await j.check('the confirmation says what happens', () => see(page, /gets updates again/));
    await j.must('confirm', () =>
      clickAndLoad(page, page.getByRole('button', { name: 'Resume the partnership' })));
    await j.shot('resumed', page);
    await j.check('resumed: no longer suspended', async () => {
      await expectFlash(page, /Resumed shop-a/);
      const summary = await page.locator('#state-summary').innerText();
      if (/suspended/.test(summary)) throw new Error(summary);
      await see(page, /partnership resumed by manager@main\.example/);
    });
    await j.must('a new enrollment code', () =>
      clickAndLoad(page, page.getByRole('button', { name: 'New enrollment code' })));
    await j.shot('enrollment-code', page);
    await j.check('shown once, with the command for the partner', async () => {
      const code = (await page.locator('#enrollment-code-value').innerText()).trim();
      if (!/^\S+\.[0-9a-f]{64}$/.test(code)) throw new Error(`the code reads "${code}"`);
      await see(page, /tieup partner enroll PARTNER_DIR --main https:\/\/127\.0\.0\.1:\d+ --token/);
    });
    await basics(j);
  });
});

test('main_console_partner_revoke: revoke shop-b after its confirmation', async (t) => {
  await runJourney('main_console_partner_revoke', t, await newContext(),
                   path.join(artifacts, 'main_console_partner_revoke'), async (j) => {
    const page = j.page;
    await signedIn(j, MAIN);
    await openPartner(j, 'shop-b');
    await j.shot('shop-b', page);
    await j.must('Revoke…', () => clickAndLoad(page, page.locator('#revoke')));
    await j.shot('confirm-revoke', page);
    await j.check('the confirmation says it cannot be undone', async () => {
      await see(page, /Revoke Kyoto Leaf \(shop-b\)\?/);
      await see(page, /certificate is refused/);
      await see(page, /cannot be undone/);
    });
    await j.must('confirm', () =>
      clickAndLoad(page, page.getByRole('button', { name: 'Revoke the partnership' })));
    await j.shot('revoked', page);
    await j.check('"revoked" on the page, in `tieup main status`, no more actions', async () => {
      await expectFlash(page, /Revoked shop-b/);
      await see(page, /^revoked$/, { scope: page.locator('#state-summary') });
      await see(page, /This partnership is revoked/);
      if ((await page.locator('#actions').count()) !== 0) throw new Error('actions are offered');
      const status = await sites.tieup('main', 'status', mainDir());
      if (!/^shop-b\s.*revoked/m.test(status)) throw new Error(status);
    });
    await basics(j);
  });
});

test('main_console_partner_copy: the customer data shop-a may keep', async (t) => {
  await runJourney('main_console_partner_copy', t, await newContext(),
                   path.join(artifacts, 'main_console_partner_copy'), async (j) => {
    const page = j.page;
    await signedIn(j, MAIN);
    await openPartner(j, 'shop-a');
    const section = page.locator('#customer-copy');
    await j.check('none by default, said in words', () =>
      see(page, /Now: \(none\)/, { scope: section }));
    await j.must('tick Name and E-mail address', async () => {
      await section.getByLabel('Name', { exact: true }).check();
      await section.getByLabel('E-mail address').check();
    });
    await j.shot('copy-ticked', page);
    await j.must('save: the flash says what changed', async () => {
      await clickAndLoad(page, page.getByRole('button', { name: 'Save what it may keep' }));
      await expectFlash(page, /customer copy: \(none\) -> email,name of customers who registered there/);
      await see(page, /Now: email,name of customers who registered there/, { scope: section });
    });
    await j.shot('copy-saved', page);
    await j.check('`tieup main partner ls` says the same', async () => {
      const ls = await sites.tieup('main', 'partner', 'ls', mainDir());
      if (!/shop-a\s+email,name of customers who registered there/.test(ls)) throw new Error(ls);
    });
  });
});
