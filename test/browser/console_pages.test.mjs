// The partner console's "Your pages" (issue #13, item 5) in a real Chromium:
//
//   node console_pages.test.mjs TIEUP_BINARY [ARTIFACT_DIR]
//
// The demo's sites are created and served as in console.test.mjs (console_harness.mjs); the
// journeys run in order, each in a fresh browser context, later ones building on what earlier
// ones did, with a full-page screenshot of every step in ARTIFACT_DIR/<journey>/NN-step.png:
//   console_pages_tieup      shop-b's manager approves main's first update (so shop-b has
//                            tie-up pages, and its layout); writing, uploading or renaming to a
//                            tie-up address is then refused with the words of
//                            `tieup partner page put`;
//   console_pages_upload     an image uploaded from the upload page is served on shop-b's
//                            public port with the same bytes; a file too large for one upload
//                            is caught before it is sent;
//   console_pages_markdown   a Markdown page that shows the image: the live preview shows the
//                            text (and the image) in main's layout while it is typed, before
//                            anything is saved (the public port has no such page yet), and adds
//                            nothing to the browser's history; saved, it is served;
//   console_pages_no_script  without JavaScript, the Preview button fills the preview frame,
//                            and an upload too large gets the console's 413 page;
//   console_pages_rename     the page renamed: the old address answers 404, the new one serves
//                            it, and its Markdown is there to edit at the new address;
//   console_pages_delete     the confirmation page says what goes (the page stays until the
//                            manager confirms); confirmed, the address answers 404;
//   console_pages_emergency  an emergency edit of /index.html (the demo's shop-b is granted
//                            `keep` by main): marked as such, served, `tieup main status` shows
//                            it; given back, main's page is served again.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import zlib from 'node:zlib';

import { runJourney, waitUntil } from './harness.mjs';
import {
  SHOP_B, artifacts, browser, clickAndLoad, consoleBasics, expectFlash, expectPath, gotoAndLoad,
  newContext, notSee, see, signedIn, sites, startConsoleSuite, stopConsoleSuite,
} from './console_harness.mjs';

before(async () => { await startConsoleSuite('console-pages-logs'); });
after(async () => { await stopConsoleSuite(); });

const IMAGE_PATH = '/local/images/tea-cup.png';
const OWN_PAGE = '/local/wagashi.html';  // the demo's own page of shop-b
const PAGE_PATH = '/local/spring-tea.html';
const RENAMED_PATH = '/local/spring-sencha.html';
const PAGE_TITLE = 'Spring tea at Kyoto Leaf';
const PAGE_TEXT = 'The first sencha of spring has arrived';
const TIEUP_REFUSAL =
    "'/index.html' is a tie-up page managed by the main site; choose another path";

// --- a real PNG, made here: 160 x 48 pixels, green with a pale band ---

function crc32(bytes) {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; ++k) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function pngChunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

function makePng(width, height) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;   // bits per sample
  header[9] = 2;   // RGB
  const rows = [];
  for (let y = 0; y < height; ++y) {
    const row = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; ++x) {
      const band = y > height / 3 && y < (2 * height) / 3;
      row.set(band ? [220, 235, 200] : [60, 120 + (x % 40), 60], 1 + x * 3);
    }
    rows.push(row);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', header),
    pngChunk('IDAT', zlib.deflateSync(Buffer.concat(rows))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

const IMAGE = makePng(160, 48);

// What shop-b's public port answers at `p`: { status, type, bytes }.
async function publicFetch(p) {
  const r = await fetch(sites.url('shop-b', p), { signal: AbortSignal.timeout(3000) });
  return { status: r.status, type: r.headers.get('content-type') ?? '',
           bytes: Buffer.from(await r.arrayBuffer()) };
}

async function publicStatusBecomes(p, want) {
  let last = 0;
  await waitUntil(`${p} on shop-b's public port to answer ${want}`, async () => {
    last = (await publicFetch(p)).status;
    return last === want;
  }, { deadlineMs: 10000, everyMs: 200 }).catch((e) => {
    throw new Error(`${e.message}; it answers ${last}`);
  });
}

// The row of the Your pages table for `p`.
function rowOf(page, p) {
  return page.locator('table.own-pages tbody tr', {
    has: page.locator('code', { hasText: new RegExp(`^${p.replace(/[.]/g, '\\.')}$`) }) });
}

async function openYourPages(j) {
  await j.must('Your pages', async () => {
    await gotoAndLoad(j.page, sites.consoleUrl('shop-b', '/'));
    await clickAndLoad(j.page,
                       j.page.getByRole('navigation').getByRole('link', { name: 'Your pages' }));
  });
}

// The text of the preview frame (the newest one shown), '' while there is none.
async function previewText(page) {
  const frame = page.locator('iframe.page-preview:not(.is-loading)');
  if ((await frame.count()) !== 1) return '';
  const handle = await frame.elementHandle();
  const content = await handle?.contentFrame();
  if (!content) return '';
  return content.evaluate(() => document.body?.innerText ?? '').catch(() => '');
}

async function previewShows(page, re, timeout = 5000) {
  let text = '';
  await waitUntil(`the preview to show ${re}`, async () => {
    text = await previewText(page);
    return re.test(text);
  }, { deadlineMs: timeout, everyMs: 100 }).catch((e) => {
    throw new Error(`${e.message}; it shows "${text.replace(/\s+/g, ' ').slice(0, 200)}"`);
  });
}

// --- the journeys ---

test('console_pages_tieup: a tie-up address is refused with the command line\'s words',
     async (t) => {
  await runJourney('console_pages_tieup', t, await newContext(),
                   path.join(artifacts, 'console_pages_tieup'), async (j) => {
    const page = j.page;
    await signedIn(j);
    // shop-b serves main's pages once its manager approves the first update.
    await j.must('approve the first update from the main site', async () => {
      await gotoAndLoad(page, sites.consoleUrl('shop-b', '/'));
      await clickAndLoad(page, page.getByRole('link', { name: /^review$/i }).first());
      await clickAndLoad(page, page.locator('#approve'));
      await waitUntil("shop-b's tie-up front page", async () =>
        (await publicFetch('/index.html')).status === 200, { deadlineMs: 30000, everyMs: 200 });
    });
    let cli = '';
    await j.must('the command line refuses /index.html', async () => {
      const file = path.join(sites.dir, 'mine.html');
      fs.writeFileSync(file, '<p>mine</p>');
      try {
        await sites.tieup('partner', 'page', 'put', sites.siteDir('shop-b'), '/index.html', file);
      } catch (e) {
        cli = e.message;
      }
      if (!cli.includes(TIEUP_REFUSAL)) throw new Error(`the CLI said "${cli}"`);
    });

    await gotoAndLoad(page, sites.consoleUrl('shop-b', '/pages/edit'));
    await j.must('write a page at /index.html', async () => {
      await page.getByLabel(/^address/i).fill('/index.html');
      await page.getByRole('radio', { name: /^html/i }).check();
      await page.getByLabel(/^text/i).fill('<h1>Mine</h1>');
      await clickAndLoad(page, page.locator('#save'));
    });
    await j.shot('save-refused');
    await consoleBasics(j, { who: SHOP_B.email });
    await j.check("refused with the command line's words, the text kept", async () => {
      const error = (await page.getByRole('alert').innerText()).trim();
      if (error !== `Not saved: ${TIEUP_REFUSAL}.`) throw new Error(`the page says "${error}"`);
      if ((await page.getByLabel(/^text/i).inputValue()) !== '<h1>Mine</h1>') {
        throw new Error('the text is lost');
      }
    });
    await j.check("main's page is still served", async () => {
      const got = await publicFetch('/index.html');
      if (got.bytes.toString().includes('<h1>Mine</h1>')) throw new Error('it was replaced');
    });

    await gotoAndLoad(page, sites.consoleUrl('shop-b', '/pages/upload'));
    await j.must('upload a file to /index.html', async () => {
      await page.getByLabel(/^files$/i).setInputFiles({
        name: 'index.html', mimeType: 'text/html', buffer: Buffer.from('<h1>Mine</h1>') });
      await page.getByLabel(/^put them at/i).fill('/index.html');
      await clickAndLoad(page, page.getByRole('button', { name: /upload and publish/i }));
    });
    await j.shot('upload-refused');
    await j.check("refused with the command line's words", async () => {
      const error = (await page.getByRole('alert').innerText()).trim();
      if (error !== `Not uploaded: ${TIEUP_REFUSAL}.`) throw new Error(`the page says "${error}"`);
    });

    await gotoAndLoad(page, sites.consoleUrl('shop-b', `/pages/rename?path=${OWN_PAGE}`));
    await j.must(`rename ${OWN_PAGE} to /index.html`, async () => {
      await page.getByLabel(/^new address/i).fill('/index.html');
      await clickAndLoad(page, page.getByRole('button', { name: /^rename$/i }));
    });
    await j.shot('rename-refused');
    await j.check("refused with the command line's words", async () => {
      const error = (await page.getByRole('alert').innerText()).trim();
      if (error !== `Not renamed: ${TIEUP_REFUSAL}.`) throw new Error(`the page says "${error}"`);
      if ((await publicFetch(OWN_PAGE)).status !== 200) throw new Error('the page moved');
    });
    await j.check('a tie-up page cannot be opened for deleting either', async () => {
      await gotoAndLoad(page, sites.consoleUrl('shop-b', '/pages/delete?path=/index.html'));
      await see(page, /is a tie-up page managed by the main site; ask the main site's manager/);
      await notSee(page, /Delete .* now/);
    });
    await j.shot('delete-refused');
  });
});

test('console_pages_upload: an image uploaded is served on the public port, byte for byte',
     async (t) => {
  await runJourney('console_pages_upload', t, await newContext(),
                   path.join(artifacts, 'console_pages_upload'), async (j) => {
    const page = j.page;
    await signedIn(j);
    await openYourPages(j);
    await j.shot('pages');
    await j.must('Upload images and files', () =>
      clickAndLoad(page, page.getByRole('link', { name: /upload images and files/i })));
    await j.shot('upload-form');
    await consoleBasics(j, { who: SHOP_B.email });
    await j.check('every field has its label', async () => {
      for (const label of [/^files$/i, /^put them at/i]) {
        if ((await page.getByLabel(label).count()) !== 1) throw new Error(`no field ${label}`);
      }
    });

    await j.must('choose a file too large for one upload: it is caught before sending',
                 async () => {
      await page.getByLabel(/^files$/i).setInputFiles({
        name: 'huge-photo.png', mimeType: 'image/png', buffer: Buffer.alloc(9 * 1024 * 1024, 1) },
        { timeout: 60000 });  // 9 MiB through the DevTools protocol takes a while on a busy host
      await see(page, /more than the 8 MiB one upload takes/);
      if (!(await page.locator('#upload').isDisabled())) throw new Error('Upload can be pressed');
    });
    await j.shot('too-large');

    await j.must('choose the image: the page says where it goes', async () => {
      await page.getByLabel(/^files$/i).setInputFiles({
        name: 'tea-cup.png', mimeType: 'image/png', buffer: IMAGE });
      await see(page, new RegExp(`tea-cup\\.png \\([^)]*\\) → ${IMAGE_PATH.replace(/[.]/g, '\\.')}`));
      if (await page.locator('#upload').isDisabled()) throw new Error('Upload is disabled');
    });
    await j.shot('chosen');
    await j.must('Upload and publish', () =>
      clickAndLoad(page, page.getByRole('button', { name: /upload and publish/i })));
    await j.shot('uploaded');
    await consoleBasics(j, { who: SHOP_B.email });
    await j.check('the message says where it is and how to show it', async () => {
      expectPath(page, '/pages');
      await expectFlash(page, new RegExp(
          `Uploaded tea-cup\\.png to ${IMAGE_PATH.replace(/[.]/g, '\\.')} .*it is live now. ` +
          `Show it in a Markdown page with !\\[what it shows\\]\\(${IMAGE_PATH.replace(/[.]/g, '\\.')}\\)`));
    });
    await j.check('the image is listed as a PNG image', async () => {
      const row = rowOf(page, IMAGE_PATH);
      if ((await row.count()) !== 1) throw new Error('not listed once');
      const text = await row.innerText();
      if (!/PNG image/.test(text)) throw new Error(`the row reads "${text}"`);
      if ((await row.getByRole('link', { name: /^edit/i }).count()) !== 0) {
        throw new Error('an image offers "Edit"');
      }
    });
    await j.must("shop-b's public port serves the same bytes", async () => {
      const got = await publicFetch(IMAGE_PATH);
      if (got.status !== 200) throw new Error(`HTTP ${got.status}`);
      if (!got.type.startsWith('image/png')) throw new Error(`Content-Type ${got.type}`);
      assert.ok(got.bytes.equals(IMAGE), `${got.bytes.length} bytes, not the ${IMAGE.length} sent`);
    });
    const shop = await page.context().newPage();
    await gotoAndLoad(shop, sites.url('shop-b', IMAGE_PATH));
    await j.shot('public-image', shop);
    await shop.close();
  });
});

test('console_pages_markdown: a Markdown page with the image, previewed live before saving',
     async (t) => {
  await runJourney('console_pages_markdown', t, await newContext(),
                   path.join(artifacts, 'console_pages_markdown'), async (j) => {
    const page = j.page;
    await signedIn(j);
    await openYourPages(j);
    await j.must('New page', () => clickAndLoad(page, page.getByRole('link', { name: /new page/i })));
    await j.shot('new-page');
    await consoleBasics(j, { who: SHOP_B.email });
    await j.check('the preview says how it works', () => see(page, /The preview follows your typing/));
    // Wide enough for the editor and its preview side by side, as on a desktop screen. (A
    // sandboxed frame below the first screenful is not painted in a full-page screenshot, so
    // the preview is kept within it.)
    await page.setViewportSize({ width: 1280, height: 1000 });
    await j.must('fill in the address, Markdown and the title', async () => {
      await page.getByLabel(/^address/i).fill(PAGE_PATH);
      await page.getByRole('radio', { name: /markdown/i }).check();
      await page.getByLabel(/^title/i).fill(PAGE_TITLE);
    });
    const historyBefore = await page.evaluate(() => window.history.length);
    await j.must('type the text: the preview shows it, with the image, as it is typed', async () => {
      const body = page.getByLabel(/^text/i);
      await body.click();
      await body.pressSequentially(`# ${PAGE_TEXT}\n\n`, { delay: 5 });
      await previewShows(page, new RegExp(PAGE_TEXT));
      await body.pressSequentially(
          `![A cup of sencha](${IMAGE_PATH})\n\nPicked in **Uji** this April.\n`, { delay: 5 });
      await previewShows(page, /Picked in Uji this April/);
    });
    await j.shot('live-preview');
    await j.check("the preview wears the site's layout and shows the image", async () => {
      const handle = await page.locator('iframe.page-preview:not(.is-loading)').elementHandle();
      const frame = await handle.contentFrame();
      const header = await frame.evaluate(() => document.querySelector('header')?.innerText ?? '');
      if (!header.includes('Sakura Tea') || !header.includes(SHOP_B.name)) {
        throw new Error(`the preview's header reads "${header}"`);
      }
      await waitUntil('the image to load in the preview', () => frame.evaluate(() => {
        const img = document.querySelector('img[alt="A cup of sencha"]');
        return img && img.complete && img.naturalWidth === 160;
      }), { deadlineMs: 5000 });
      const sheet = await frame.evaluate(() => getComputedStyle(document.body).fontFamily);
      if (!sheet) throw new Error('no style');
    });
    await j.check('the preview runs no script and is sandboxed', async () => {
      const frame = page.locator('iframe.page-preview:not(.is-loading)');
      if ((await frame.getAttribute('sandbox')) !== '') {
        throw new Error(`sandbox="${await frame.getAttribute('sandbox')}"`);
      }
    });
    await j.check('nothing is saved yet: the public port has no such page', async () => {
      const got = await publicFetch(PAGE_PATH);
      if (got.status !== 404) throw new Error(`HTTP ${got.status}`);
    });
    await j.check('previews leave no trail in the history (Back goes to Your pages)', async () => {
      const length = await page.evaluate(() => window.history.length);
      if (length !== historyBefore) {
        throw new Error(`the history grew from ${historyBefore} to ${length} entries`);
      }
    });
    await page.setViewportSize({ width: 390, height: 844 });
    await j.shot('phone');
    await j.check('on a phone: nothing wider than the screen, the preview under the text',
                  async () => {
      const [scroll, width] = await page.evaluate(
          () => [document.documentElement.scrollWidth, window.innerWidth]);
      if (scroll > width) throw new Error(`the page is ${scroll} px wide in a ${width} px window`);
      const text = await page.getByLabel(/^text/i).boundingBox();
      const frame = await page.locator('iframe.page-preview:not(.is-loading)').boundingBox();
      if (!(frame.y > text.y + text.height)) throw new Error('the preview is not under the text');
    });
    await page.setViewportSize({ width: 1024, height: 768 });
    await j.must('Save and publish', () => clickAndLoad(page, page.locator('#save')));
    await j.shot('saved');
    await j.check('saved and live, in the list', async () => {
      expectPath(page, '/pages');
      await expectFlash(page, new RegExp(`Saved ${PAGE_PATH.replace(/[.]/g, '\\.')}: it is live now`));
      if ((await rowOf(page, PAGE_PATH).count()) !== 1) throw new Error('not listed');
    });
    const shop = await page.context().newPage();
    await j.must('the page served on the public port, with the image', async () => {
      const answer = await gotoAndLoad(shop, sites.url('shop-b', PAGE_PATH));
      if (answer?.status() !== 200) throw new Error(`HTTP ${answer?.status()}`);
      await see(shop, new RegExp(PAGE_TEXT));
      await waitUntil('the image to load', () => shop.evaluate(() => {
        const img = document.querySelector('img[alt="A cup of sencha"]');
        return img && img.complete && img.naturalWidth === 160;
      }), { deadlineMs: 5000 });
      const title = await shop.title();
      if (!title.includes(PAGE_TITLE)) throw new Error(`the title is "${title}"`);
    });
    await j.shot('public-page', shop);
    await shop.close();
  });
});

test('console_pages_no_script: without JavaScript the Preview button fills the preview',
     async (t) => {
  const context = await browser.newContext({ viewport: { width: 1024, height: 768 },
                                             locale: 'en-US', javaScriptEnabled: false });
  context.setDefaultTimeout(5000);
  await runJourney('console_pages_no_script', t, context,
                   path.join(artifacts, 'console_pages_no_script'), async (j) => {
    const page = j.page;
    await signedIn(j);
    await gotoAndLoad(page, sites.consoleUrl('shop-b', `/pages/edit?path=${PAGE_PATH}`));
    await j.shot('editor');
    await j.check('the saved page in the preview at once', () => previewShows(page, new RegExp(PAGE_TEXT)));
    await j.must('change the text and press Preview', async () => {
      await page.getByLabel(/^text/i).fill('# Not saved: only a preview\n');
      await page.getByRole('button', { name: /^preview$/i }).click();
      await previewShows(page, /Not saved: only a preview/);
    });
    await j.shot('previewed');
    await j.check('the editor stays as it was, and nothing is saved', async () => {
      expectPath(page, '/pages/edit');
      const got = await publicFetch(PAGE_PATH);
      if (!got.bytes.toString().includes(PAGE_TEXT)) throw new Error('the page changed');
    });
    // Without the script's check, a file too large reaches the server, which says so.
    await gotoAndLoad(page, sites.consoleUrl('shop-b', '/pages/upload'));
    await j.must('upload a file too large: a 413 page that says the limit', async () => {
      await page.getByLabel(/^files$/i).setInputFiles({
        name: 'huge-photo.png', mimeType: 'image/png', buffer: Buffer.alloc(9 * 1024 * 1024, 1) },
        { timeout: 60000 });  // 9 MiB through the DevTools protocol takes a while on a busy host
      const answer = await clickAndLoad(page, page.getByRole('button', { name: /upload and publish/i }));
      if (answer?.status() !== 413) throw new Error(`HTTP ${answer?.status()}`);
      await see(page, /The upload is 9\.1 MiB, more than the 8 MiB this page takes at once/);
    });
    await j.shot('too-large');
    await j.check('nothing of it was put', async () => {
      if ((await publicFetch('/local/images/huge-photo.png')).status !== 404) {
        throw new Error('it is served');
      }
    });
  });
});

test('console_pages_rename: renamed, the old address is 404 and the new one serves the page',
     async (t) => {
  await runJourney('console_pages_rename', t, await newContext(),
                   path.join(artifacts, 'console_pages_rename'), async (j) => {
    const page = j.page;
    await signedIn(j);
    await openYourPages(j);
    await j.must(`Rename ${PAGE_PATH}`, () =>
      clickAndLoad(page, rowOf(page, PAGE_PATH).getByRole('link', { name: /^rename/i })));
    await j.shot('rename-form');
    await consoleBasics(j, { who: SHOP_B.email });
    await j.check('the form says what a rename does', () =>
      see(page, /moves in one step.*answers “not found”/));
    await j.must('rename to an address that is taken: refused, saying what to do', async () => {
      await page.getByLabel(/^new address/i).fill(IMAGE_PATH);
      await clickAndLoad(page, page.getByRole('button', { name: /^rename$/i }));
      await see(page, /Not renamed: there is a page at '\/local\/images\/tea-cup\.png' already: choose another address, or delete that page first/);
    });
    await j.shot('refused');
    await j.must(`rename to ${RENAMED_PATH}`, async () => {
      await page.getByLabel(/^new address/i).fill(RENAMED_PATH);
      await clickAndLoad(page, page.getByRole('button', { name: /^rename$/i }));
    });
    await j.shot('renamed');
    await j.check('the message says what changed', async () => {
      expectPath(page, '/pages');
      await expectFlash(page, new RegExp(`Renamed ${PAGE_PATH.replace(/[.]/g, '\\.')} to ` +
                                         `${RENAMED_PATH.replace(/[.]/g, '\\.')}`));
      if ((await rowOf(page, PAGE_PATH).count()) !== 0) throw new Error('the old one is listed');
      if ((await rowOf(page, RENAMED_PATH).count()) !== 1) throw new Error('the new one is not');
    });
    await j.must('the old address answers 404, the new one serves the page', async () => {
      await publicStatusBecomes(PAGE_PATH, 404);
      const got = await publicFetch(RENAMED_PATH);
      if (got.status !== 200 || !got.bytes.toString().includes(PAGE_TEXT)) {
        throw new Error(`HTTP ${got.status}`);
      }
    });
    const shop = await page.context().newPage();
    await gotoAndLoad(shop, sites.url('shop-b', RENAMED_PATH));
    await j.shot('public-renamed', shop);
    await gotoAndLoad(shop, sites.url('shop-b', PAGE_PATH));
    await j.shot('public-old-address', shop);
    await shop.close();
    await j.must('Edit at the new address: its Markdown is there', async () => {
      await clickAndLoad(page, rowOf(page, RENAMED_PATH).getByRole('link', { name: /^edit/i }));
      const body = await page.getByLabel(/^text/i).inputValue();
      if (!body.startsWith(`# ${PAGE_TEXT}`)) throw new Error(`the text is "${body.slice(0, 60)}"`);
      if (!(await page.getByRole('radio', { name: /markdown/i }).isChecked())) {
        throw new Error('not Markdown');
      }
      if ((await page.getByLabel(/^title/i).inputValue()) !== PAGE_TITLE) throw new Error('title');
    });
    await j.shot('edit-renamed');
    // A page put from the command line with a `layout:` in its front matter keeps it when the
    // console saves it (the editor edits the title and the text only).
    const LAYOUT_PAGE = '/local/layout-kept.html';
    await j.must('a Markdown page with a layout, put from the command line', async () => {
      const file = path.join(sites.dir, 'layout-kept.md');
      fs.writeFileSync(file, '---\ntitle: Kept\nlayout: default\n---\nIts layout stays.\n');
      await sites.tieup('partner', 'page', 'put', sites.siteDir('shop-b'),
                        '/local/layout-kept.md', file);
    });
    await j.must('edited in the console, its layout is kept', async () => {
      await gotoAndLoad(page, sites.consoleUrl('shop-b', `/pages/edit?path=${LAYOUT_PAGE}`));
      await page.getByLabel(/^title/i).fill('Kept, retitled');
      await clickAndLoad(page, page.locator('#save'));
      await expectFlash(page, /Saved \/local\/layout-kept\.html/);
      await gotoAndLoad(page, sites.consoleUrl('shop-b', `/pages/edit?path=${LAYOUT_PAGE}`));
      if ((await page.getByLabel(/^title/i).inputValue()) !== 'Kept, retitled') {
        throw new Error('the title was not saved');
      }
      const layout = await page.locator('input[name="layout"]').inputValue();
      if (layout !== 'default') throw new Error(`the layout is "${layout}"`);
    });
  });
});

test('console_pages_delete: a confirmation page first; confirmed, the page is gone',
     async (t) => {
  await runJourney('console_pages_delete', t, await newContext(),
                   path.join(artifacts, 'console_pages_delete'), async (j) => {
    const page = j.page;
    await signedIn(j);
    await openYourPages(j);
    await j.must(`Delete ${RENAMED_PATH}`, () =>
      clickAndLoad(page, rowOf(page, RENAMED_PATH).getByRole('link', { name: /^delete/i })));
    await j.shot('confirm');
    await consoleBasics(j, { who: SHOP_B.email });
    await j.check('the confirmation says what will be removed', async () => {
      await see(page, new RegExp(`Delete ${RENAMED_PATH.replace(/[.]/g, '\\.')}\\?`));
      await see(page, /Web page/);
      await see(page, new RegExp(`Its Markdown text, titled “${PAGE_TITLE}”, goes too`));
      await see(page, /visitors to .* get “not found”/);
    });
    await j.check('nothing is deleted by looking', async () => {
      if ((await publicFetch(RENAMED_PATH)).status !== 200) throw new Error('it is gone already');
    });
    await j.must('Delete now', () =>
      clickAndLoad(page, page.getByRole('button', { name: /^delete .* now$/i })));
    await j.shot('deleted');
    await j.check('deleted: the message, the list', async () => {
      expectPath(page, '/pages');
      await expectFlash(page, new RegExp(`Deleted ${RENAMED_PATH.replace(/[.]/g, '\\.')}`));
      if ((await rowOf(page, RENAMED_PATH).count()) !== 0) throw new Error('still listed');
      if ((await rowOf(page, IMAGE_PATH).count()) !== 1) throw new Error('the image went too');
    });
    await j.must('the public port answers 404 there', () => publicStatusBecomes(RENAMED_PATH, 404));
    await j.check('a stale confirmation page says the page is gone', async () => {
      await gotoAndLoad(page, sites.consoleUrl('shop-b', `/pages/delete?path=${RENAMED_PATH}`));
      await see(page, /You have no page at .* \(it may have been deleted already\)/);
    });
  });
});


// The demo's partnership with shop-b grants emergency edits (`keep`), in main's signed release.
test('console_pages_emergency: a tie-up page edited in an emergency, main told, given back',
     async (t) => {
  await runJourney('console_pages_emergency', t, await newContext(),
                   path.join(artifacts, 'console_pages_emergency'), async (j) => {
    const page = j.page;
    const FIXED = 'Closed today for the festival';
    await signedIn(j);
    await openYourPages(j);
    await j.shot('your-pages');
    await j.check('the right is shown as granted by main, with what happens on updates', async () => {
      await see(page, /Emergency edits of tie-up pages/);
      await see(page, /The main site is told of every edit at once/);
      await see(page, /Your edit stays over the main site's later versions/);
      await see(page, /No emergency edit is in force/);
    });
    await j.must('open /index.html for an emergency edit', async () => {
      await page.getByLabel(/address of the tie-up page to edit/i).fill('/index.html');
      await clickAndLoad(page, page.getByRole('button', { name: /edit in an emergency/i }));
    });
    await j.shot('editor');
    await consoleBasics(j, { who: SHOP_B.email });
    await j.check('clearly marked as an emergency edit of a page main manages', async () => {
      await see(page, /This is an emergency edit of a page the main site manages/);
      const html = await page.getByLabel(/the page's html/i).inputValue();
      if (!html.includes('<h1>')) throw new Error('the editor does not hold the served page');
    });
    await j.must('replace the heading, confirm and save', async () => {
      const box = page.getByLabel(/the page's html/i);
      const html = await box.inputValue();
      await box.fill(html.replace(/<h1>.*?<\/h1>/, `<h1>${FIXED}</h1>`));
      await page.getByLabel(/I replace the main site's page/i).check();
      await clickAndLoad(page, page.getByRole('button', { name: /save the emergency edit/i }));
    });
    await j.shot('saved');
    await j.check('saved: live, and main has been told', async () => {
      expectPath(page, '/pages');
      await expectFlash(page, /Emergency edit of \/index\.html is live; the main site has been told/);
      await see(page, /your version is served/);
    });
    await j.must("shop-b's public front page shows the edit", () =>
      waitUntil('the edited heading on the public port', async () =>
        (await publicFetch('/index.html')).bytes.toString().includes(`<h1>${FIXED}</h1>`),
      { deadlineMs: 10000, everyMs: 200 }));
    await j.check('`tieup main status` shows the emergency edit', async () => {
      const out = await sites.tieup('main', 'status', sites.siteDir('main'));
      const line = out.split('\n').find((l) => l.startsWith('shop-b')) ?? '';
      if (!/emergency-edited: \/index\.html/.test(line)) throw new Error(`main status: ${line}`);
    });
    await j.must("give main's page back", () => clickAndLoad(page,
        page.getByRole('button', { name: /serve the main site's page again/i })));
    await j.shot('given-back');
    await j.check('given back: the message, no edit in force', async () => {
      await expectFlash(page, /The main site's page is served again at \/index\.html/);
      await see(page, /No emergency edit is in force/);
    });
    await j.must("shop-b's public front page is main's again", () =>
      waitUntil("main's heading on the public port", async () =>
        !(await publicFetch('/index.html')).bytes.toString().includes(FIXED),
      { deadlineMs: 10000, everyMs: 200 }));
  });
});
