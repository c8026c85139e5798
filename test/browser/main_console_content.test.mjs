// The main console's Content area (issue #14, item 3) in a real Chromium:
//
//   node main_console_content.test.mjs TIEUP_BINARY [ARTIFACT_DIR]
//
// The demo's sites (console_harness.mjs). Each journey runs in a fresh browser context and keeps
// a full-page screenshot of every step in ARTIFACT_DIR/<journey>/NN-step.png:
//   main_console_content   the authoring tree (pages, layouts, assets with sizes and times); the
//                          home page's heading edited with the live preview in main's layout,
//                          then previewed as shop-a (its name and region in the header); which
//                          partners the change reaches; Save writes the file and says to publish
//                          (a link to /publish); the audit log records it; the layout previewed
//                          with the home page; a small asset uploaded into the tree, then
//                          deleted after a confirmation; a new page, previewed before it exists;
//                          a too-large upload gets the 413 page; a path outside the tree gets a
//                          clear error, and saving there is refused;
//   main_console_content_nojs  without JavaScript the Preview button fills the frame.
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { runJourney, waitUntil } from './harness.mjs';
import {
  HEADING_V1, MAIN, artifacts, browser, clickAndLoad, consoleBasics, expectFlash,
  expectPath, gotoAndLoad, newContext, notSee, see, signIn, signedIn, sites, startConsoleSuite,
  stopConsoleSuite,
} from './console_harness.mjs';

const NAV = ['Partners', 'Publish', 'Content', 'Orders', 'Products', 'Users', 'Ledger & fees',
             'Managers', 'Audit log'];
const basics = (j, page = j.page) =>
  consoleBasics(j, { title: MAIN.consoleTitle, who: MAIN.email, nav: NAV }, page);
const NEW_HEADING = 'Spring tea from Uji and Shizuoka';

before(async () => { await startConsoleSuite('main-console-content-logs'); });
after(async () => { await stopConsoleSuite(); });

// The preview frame's text (the frame shown, not one loading behind it).
async function previewText(page) {
  const frame = page.frameLocator('iframe#content-preview');
  return (await frame.locator('body').innerText({ timeout: 3000 })).trim();
}

// Shows the preview frame (Chromium does not paint a sandboxed frame out of view, and a
// screenshot would show it blank).
async function showPreview(page) {
  await page.locator('iframe#content-preview').scrollIntoViewIfNeeded().catch(() => {});
}

async function previewShows(page, re, what) {
  let shown = '';
  await waitUntil(what, async () => {
    shown = await previewText(page).catch(() => '');
    return re.test(shown);
  }, { deadlineMs: 10000, everyMs: 100 }).catch(() => {
    throw new Error(`the preview does not show ${re}; it reads "${shown.replace(/\s+/g, ' ')
        .slice(0, 200)}"`);
  });
}

const indexFile = () => path.join(sites.siteDir('main'), 'authoring', 'pages', 'index.md');

test('main_console_content: tree, edit with live preview, as shop-a, save, upload, errors',
     async (t) => {
  await runJourney('main_console_content', t, await newContext(),
                   path.join(artifacts, 'main_console_content'), async (j) => {
    const page = j.page;
    await signedIn(j, MAIN);
    await j.must('the Content page', () =>
      clickAndLoad(page, page.getByRole('link', { name: 'Content', exact: true })));
    await j.shot('tree', page);
    await basics(j);
    await j.check('pages, layouts and assets listed with sizes and times', async () => {
      expectPath(page, '/content');
      await see(page, /Pages/);
      await see(page, /pages\/index\.md\s+\/index\.html\s+\d+ bytes/);
      await see(page, /layouts\/default\.mustache/);
      await see(page, /assets\/style\.css\s+\/assets\/style\.css\s+[\d.]+ (bytes|KiB)/);
      // Times in main's time zone (Asia/Tokyo), as the console shows them.
      await see(page, /\d{4}|\d{1,2}:\d{2}/);
    });

    await j.must('open pages/index.md', () =>
      clickAndLoad(page, page.getByRole('link', { name: 'pages/index.md', exact: true })));
    await j.check('the editor shows the file and the saved page in main\'s layout', async () => {
      await see(page, /Edit pages\/index\.md/);
      const text = await page.getByLabel('Text', { exact: true }).inputValue();
      if (!text.includes(`# ${HEADING_V1}`)) throw new Error(`the text reads "${text.slice(0, 80)}"`);
      await previewShows(page, new RegExp(HEADING_V1), 'the saved heading in the preview');
      await previewShows(page, /Sakura Tea/, "main's layout (its header)");
    });
    await showPreview(page);
    await j.shot('editor', page);
    await basics(j);
    await j.check('which partners the change reaches: both, with their own copy', async () => {
      await see(page, /Which partners this change reaches/);
      await see(page, /2 of 2 active partners get it at the next publish/);
      await see(page, /Tea House Asahi \(shop-a, contents\): its copy of the page changes/);
      await see(page, /Kyoto Leaf \(shop-b, contents\)/);
    });

    await j.must('edit the heading', async () => {
      const box = page.getByLabel('Text', { exact: true });
      const text = await box.inputValue();
      await box.fill(text.replace(`# ${HEADING_V1}`, `# ${NEW_HEADING}`));
    });
    await j.check('the preview follows the typing, in main\'s layout', async () => {
      await previewShows(page, new RegExp(NEW_HEADING), 'the new heading in the preview');
      const shown = await previewText(page);
      if (/Tea House Asahi/.test(shown)) throw new Error('main\'s preview names a partner');
    });
    await showPreview(page);
    await j.shot('live-preview', page);
    await j.check('not saved yet: the file still has the old heading', () => {
      if (!fs.readFileSync(indexFile(), 'utf8').includes(`# ${HEADING_V1}\n`)) {
        throw new Error('index.md changed before Save');
      }
    });

    await j.must('preview as shop-a', () =>
      page.getByLabel('Preview as').selectOption('shop-a'));
    await j.check("shop-a's preview: its name and region, with the new heading", async () => {
      await previewShows(page, /at Tea House Asahi, Osaka/, "shop-a's header in the preview");
      await previewShows(page, new RegExp(NEW_HEADING), 'the new heading as shop-a');
      await previewShows(page, /served by our partner shop Tea House Asahi in Osaka/,
                         "shop-a's variables in the page's text");
    });
    await showPreview(page);
    await j.shot('preview-as-shop-a', page);

    await j.must('save', () =>
      clickAndLoad(page, page.getByRole('button', { name: 'Save', exact: true })));
    await showPreview(page);
    await j.shot('saved', page);
    await basics(j);
    await j.check('saved, and the page says to publish it with a link to /publish', async () => {
      await expectFlash(page, /Saved pages\/index\.md/);
      await see(page, /goes live when you publish/);
      const link = page.getByRole('link', { name: 'Publish it' });
      if ((await link.getAttribute('href')) !== '/publish') throw new Error('no link to /publish');
    });
    await j.check('the file changed on disk', () => {
      const text = fs.readFileSync(indexFile(), 'utf8');
      if (!text.includes(`# ${NEW_HEADING}\n`)) throw new Error(`index.md reads "${text}"`);
    });
    await j.check('the editor keeps shop-a chosen and shows the saved page as shop-a', async () => {
      if ((await page.getByLabel('Preview as').inputValue()) !== 'shop-a') {
        throw new Error('the partner choice was lost');
      }
      await previewShows(page, /at Tea House Asahi, Osaka/, "shop-a's saved page");
    });
    await j.check('the audit log records the save', async () => {
      const p = await page.context().newPage();
      await gotoAndLoad(p, sites.consoleUrl('main', '/audit'));
      await see(p, /content\.save/);
      await see(p, /pages\/index\.md/);
      await p.close();
    });

    await j.check('a layout is previewed with the home page, its draft followed', async () => {
      await gotoAndLoad(page, sites.consoleUrl('main', '/content/edit?path=layouts/default.mustache'));
      await see(page, /Edit layouts\/default\.mustache/);
      await previewShows(page, new RegExp(NEW_HEADING), 'the home page in the layout');
      const box = page.getByLabel('Text', { exact: true });
      await box.fill((await box.inputValue()).replace('Sakura Tea Co.', 'Sakura Tea Company'));
      await previewShows(page, /Sakura Tea Company/, "the layout's draft footer");
    });
    await showPreview(page);
    await j.shot('layout', page);

    await j.must('the upload form', async () => {
      await gotoAndLoad(page, sites.consoleUrl('main', '/content'));
      await clickAndLoad(page, page.getByRole('link', { name: 'Upload assets' }));
    });
    await j.shot('upload-form', page);
    await basics(j);
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8">' +
                '<circle cx="4" cy="4" r="4" fill="#7a1f3d"/></svg>\n';
    await j.must('upload leaf.svg', async () => {
      await page.getByLabel('Files').setInputFiles({
        name: 'leaf.svg', mimeType: 'image/svg+xml', buffer: Buffer.from(svg) });
      await clickAndLoad(page, page.getByRole('button', { name: 'Upload', exact: true }));
    });
    await j.shot('uploaded', page);
    await j.check('uploaded into the tree, listed, on disk', async () => {
      expectPath(page, '/content');
      await expectFlash(page, /Uploaded assets\/leaf\.svg \(\d+ bytes\)/);
      await see(page, /assets\/leaf\.svg\s+\/assets\/leaf\.svg/);
      const file = path.join(sites.siteDir('main'), 'authoring', 'assets', 'leaf.svg');
      if (fs.readFileSync(file, 'utf8') !== svg) throw new Error('assets/leaf.svg differs');
    });

    await j.check('only pages and layouts have an Edit link', async () => {
      if ((await page.getByRole('link', { name: 'Edit assets/leaf.svg' }).count()) !== 0) {
        throw new Error('an asset has an Edit link');
      }
      if ((await page.getByRole('link', { name: 'Edit layouts/default.mustache' }).count()) !== 1) {
        throw new Error('the layout has no Edit link');
      }
    });
    await j.must('delete assets/leaf.svg: the confirmation first', () =>
      clickAndLoad(page, page.getByRole('link', { name: 'Delete assets/leaf.svg' })));
    await j.shot('delete-confirm', page);
    await basics(j);
    await j.check('the confirmation says what goes and whom it reaches; nothing deleted yet',
                  async () => {
      await see(page, /Delete assets\/leaf\.svg\?/);
      await see(page, /2 of 2 active partners get it at the next publish/);
      const file = path.join(sites.siteDir('main'), 'authoring', 'assets', 'leaf.svg');
      if (!fs.existsSync(file)) throw new Error('deleted before the confirmation');
    });
    await j.must('confirm', () =>
      clickAndLoad(page, page.getByRole('button', { name: 'Delete assets/leaf.svg' })));
    await j.check('deleted, and said so', async () => {
      expectPath(page, '/content');
      await expectFlash(page, /Deleted assets\/leaf\.svg/);
      await notSee(page, /assets\/leaf\.svg\s/);
      const file = path.join(sites.siteDir('main'), 'authoring', 'assets', 'leaf.svg');
      if (fs.existsSync(file)) throw new Error('assets/leaf.svg is still there');
    });

    await j.must('a new page', async () => {
      await clickAndLoad(page, page.getByRole('link', { name: 'New page' }));
      await page.getByLabel('File', { exact: true }).fill('pages/news/spring.md');
      await page.getByLabel('Text', { exact: true }).fill(
          '---\ntitle: Spring\n---\n# Spring has come\n');
    });
    await j.check('the new page previews before it exists', () =>
      previewShows(page, /Spring has come/, 'the new page in the preview'));
    await showPreview(page);
    await j.shot('new-page', page);
    await j.must('save the new page', () =>
      clickAndLoad(page, page.getByRole('button', { name: 'Save', exact: true })));
    await j.check('created, and its editor opens', async () => {
      await expectFlash(page, /Saved pages\/news\/spring\.md/);
      await see(page, /Edit pages\/news\/spring\.md/);
      const file = path.join(sites.siteDir('main'), 'authoring', 'pages', 'news', 'spring.md');
      if (fs.readFileSync(file, 'utf8') !== '---\ntitle: Spring\n---\n# Spring has come\n') {
        throw new Error('spring.md differs');
      }
    });
    await j.check('a second new page at that path is refused', async () => {
      await gotoAndLoad(page, sites.consoleUrl('main', '/content/new'));
      await page.getByLabel('File', { exact: true }).fill('pages/news/spring.md');
      const r = await clickAndLoad(page, page.getByRole('button', { name: 'Save', exact: true }));
      if (r.status() !== 409) throw new Error(`status ${r.status()}`);
      await see(page, /pages\/news\/spring\.md exists already/);
    });

    await j.must('choose a file that is too large', async () => {
      await gotoAndLoad(page, sites.consoleUrl('main', '/content/upload'));
      await page.getByLabel('Files').setInputFiles({
        name: 'huge.png', mimeType: 'image/png', buffer: Buffer.alloc(9 * 1024 * 1024, 1) },
        { timeout: 60000 });  // 9 MiB through the DevTools protocol takes a while on a busy host
    });
    await j.check('the form says so before sending, and Upload is off', async () => {
      await see(page, /more than the 8 MiB one upload takes/);
      if (!(await page.getByRole('button', { name: 'Upload', exact: true }).isDisabled())) {
        throw new Error('Upload can still be pressed');
      }
    });
    await j.shot('too-large-chosen', page);
    const answer = await j.must('send it anyway (as a browser without the script would)',
                                async () => {
      await page.evaluate(() => { document.getElementById('content-upload').disabled = false; });
      return clickAndLoad(page, page.getByRole('button', { name: 'Upload', exact: true }));
    });
    await j.shot('too-large-413', page);
    await j.check('a 413 page that says how large and what to do', async () => {
      if (answer?.status() !== 413) throw new Error(`status ${answer?.status()}`);
      await see(page, /Too large/);
      await see(page, /more than the 8 MiB this page takes at once/);
      if (fs.existsSync(path.join(sites.siteDir('main'), 'authoring', 'assets', 'huge.png'))) {
        throw new Error('huge.png was written');
      }
    });

    const outside = await j.must('open a path outside the tree', () =>
      gotoAndLoad(page, sites.consoleUrl('main', '/content/edit?path=../site.toml')));
    await j.shot('outside-the-tree', page);
    await j.check('a clear error, nothing shown from outside', async () => {
      if (outside.status() !== 400) throw new Error(`status ${outside.status()}`);
      await see(page, /Not in the authoring tree/);
      await see(page, /'\.\.\/site\.toml' is not a file of the authoring tree/);
      await see(page, /Give a path inside it, like pages\/about\.md/);
      await notSee(page, /public_address|\[console\]/);
    });
    await j.check('a preview of a path outside the tree shows no file either', async () => {
      const r = await page.request.get(
          sites.consoleUrl('main', '/content/preview?path=..%2F..%2Fetc%2Fpasswd'));
      const text = await r.text();
      if (r.status() !== 400 || /root:/.test(text)) throw new Error(`status ${r.status()}`);
    });
    await j.check('saving outside the tree is refused', async () => {
      await gotoAndLoad(page, sites.consoleUrl('main', '/content/new'));
      await page.getByLabel('File', { exact: true }).fill('../escaped.md');
      const r = await clickAndLoad(page, page.getByRole('button', { name: 'Save', exact: true }));
      if (r.status() !== 400) throw new Error(`status ${r.status()}`);
      await see(page, /Not saved: '\.\.\/escaped\.md' is not a file of the authoring tree/);
      if (fs.existsSync(path.join(sites.siteDir('main'), 'escaped.md'))) {
        throw new Error('escaped.md was written');
      }
    });
    await j.shot('save-outside-refused', page);
  });
});

test('main_console_content_nojs: the Preview button works without JavaScript', async (t) => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 },
                                             locale: 'en-US', javaScriptEnabled: false });
  context.setDefaultTimeout(5000);
  await runJourney('main_console_content_nojs', t, context,
                   path.join(artifacts, 'main_console_content_nojs'), async (j) => {
    const page = j.page;
    await j.must('sign in', () => signIn(page, MAIN));
    await j.must('the editor of pages/news/first-flush.md', () =>
      gotoAndLoad(page, sites.consoleUrl('main', '/content/edit?path=pages/news/first-flush.md')));
    await j.must('change the heading and press Preview', async () => {
      const box = page.getByLabel('Text', { exact: true });
      await box.fill((await box.inputValue()).replace('# The first flush has arrived',
                                                       '# The second flush is here'));
      await page.getByLabel('Preview as').selectOption('shop-a');
      await page.getByRole('button', { name: 'Preview', exact: true }).click();
    });
    await j.check('the frame shows the draft as shop-a', async () => {
      await previewShows(page, /The second flush is here/, 'the draft in the frame');
      await previewShows(page, /at Tea House Asahi/, "shop-a's header");
    });
    await showPreview(page);
    await j.shot('phone-preview', page);
    await j.check('nothing wider than a phone', async () => {
      const [scroll, width] = await page.evaluate(
          () => [document.documentElement.scrollWidth, window.innerWidth]);
      if (scroll > width) throw new Error(`the page is ${scroll} px wide in a ${width} px window`);
    });
    await j.check('not saved', () => {
      const f = path.join(sites.siteDir('main'), 'authoring', 'pages', 'news', 'first-flush.md');
      if (!fs.readFileSync(f, 'utf8').includes('# The first flush has arrived')) {
        throw new Error('first-flush.md changed');
      }
    });
  });
});
