// The browser tests' harness: the demo's sites as separate processes on free loopback ports,
// Debian's Chromium through playwright-core, and checks that collect what a customer would see
// wrong (a journey goes on after a failed check where it can, so one run lists every defect).
//
// Sites: `tieup demo DIR --base-port P` creates main (port P) and partners shop-a (P+1) and shop-b
// (P+2) with sync ports P+100.., main's console at P+10, the partners' at P+11 and P+12, and the
// sample tea shop; once main answers and shop-a serves its tie-up product page (and, when shop-b is
// wanted, main sees shop-b's first update waiting for its manager), the demo is stopped and each
// wanted site is served on its own (`tieup main serve DIR/main`, `tieup partner serve DIR/shop-a`),
// so that main can be stopped and started while a partner stays up. Every wait polls the state it
// needs with a deadline; nothing sleeps for a fixed time.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const CHROMIUM = '/usr/bin/chromium';

// Polls `probe` (async, returns a truthy value when done) every `everyMs` until `deadlineMs`.
export async function waitUntil(what, probe, { deadlineMs = 30000, everyMs = 100 } = {}) {
  const end = Date.now() + deadlineMs;
  let last;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}` +
                      (last ? ` (last error: ${last.message})` : ''));
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function portFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ host: '127.0.0.1', port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

// Ports fetch() and Chromium refuse to open (the Fetch standard's "bad ports" at 1024 and up;
// the tieup demo refuses a base port that puts a page on one).
const BAD_PORTS = new Set([1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665,
                           6666, 6667, 6668, 6669, 6679, 6697, 10080]);

// A base port P with P, P+1, P+2 (public), P+10, P+11, P+12 (main's and the partners'
// consoles) and P+100, P+101, P+102 (sync) free on 127.0.0.1, none of them a port browsers
// refuse (shop-b on 10080 once answered nothing to fetch()). P is drawn below Linux's
// ephemeral range (32768 and up), so that no outgoing connection of another test takes one
// of these ports between this check and the demo's listening.
export async function freeBasePort() {
  for (let attempt = 0; attempt < 50; ++attempt) {
    const base = 10000 + Math.floor(Math.random() * 22000);
    const ports = [0, 1, 2, 10, 11, 12, 30, 31, 32, 100, 101, 102].map((d) => base + d);
    if (ports.some((p) => BAD_PORTS.has(p))) continue;
    let ok = true;
    for (const p of ports) ok = ok && (await portFree(p));
    if (ok) return base;
  }
  throw new Error('no free base port found');
}

// `count` ports free on 127.0.0.1, drawn below the ephemeral range as freeBasePort's, for a site
// a test makes beside the demo's.
export async function freePorts(count) {
  const out = [];
  while (out.length < count) {
    const p = 10000 + Math.floor(Math.random() * 22000);
    if (!out.includes(p) && !BAD_PORTS.has(p) && (await portFree(p))) out.push(p);
  }
  return out;
}

// GET url: { status, error } (status 0 and why when nothing answered within 2 s).
export async function httpAnswer(url) {
  try {
    const r = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(2000) });
    await r.arrayBuffer();
    return { status: r.status, error: '' };
  } catch (e) {
    return { status: 0, error: `${e.name}: ${e.cause?.code ?? e.message}` };
  }
}

// The HTTP status of GET url, or 0 when nothing answers.
export async function httpStatus(url) {
  return (await httpAnswer(url)).status;
}

// True when GET url answers `want`; otherwise throws what it answered (for waitUntil's message).
export async function answers(url, want = 200) {
  const a = await httpAnswer(url);
  if (a.status === want) return true;
  throw new Error(a.status ? `${url} answered ${a.status}` : `${url}: ${a.error}`);
}

// One `tieup` process, its output in a log file.
export class TieupProcess {
  constructor(binary, args, logFile) {
    this.name = args.slice(0, 2).join(' ');
    this.logFile = logFile;
    const log = fs.openSync(logFile, 'a');
    this.child = spawn(binary, args, { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitCode = code ?? signal;
        resolve();
      });
    });
    Sites.all.add(this);
  }

  get running() { return this.exitCode === undefined; }

  logTail() {
    try {
      return fs.readFileSync(this.logFile, 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '';
    }
  }

  // Waits until `probe` holds; fails at once when the process ends first. When the process is
  // still running at the deadline, the error holds its threads' stacks (gdb), for a hang.
  async waitReady(what, probe, deadlineMs = 60000) {
    await waitUntil(what, async () => {
      if (!this.running) {
        throw Object.assign(new Error(`${this.name} exited (${this.exitCode}) before ${what}:\n` +
                                      this.logTail()), { fatal: true });
      }
      return probe();
    }, { deadlineMs }).catch((e) => {
      if (e.fatal) throw e;
      throw new Error(`${e.message}\n${this.name} log:\n${this.logTail()}\n` +
                      `${this.name} threads:\n${this.threadStacks()}`);
    });
  }

  // Each thread's stack (gdb's backtraces, 20 frames each), also kept beside the log; a note
  // when gdb is missing or cannot attach.
  threadStacks() {
    if (!this.running) return '(the process has ended)';
    try {
      const out = execFileSync(
          'gdb', ['-p', String(this.child.pid), '-batch', '-nx', '-ex', 'set pagination off',
                  '-ex', 'thread apply all bt 20'],
          { encoding: 'utf8', timeout: 60000, stdio: ['ignore', 'pipe', 'pipe'],
            maxBuffer: 16 * 1024 * 1024 });
      fs.writeFileSync(`${this.logFile}.stacks`, out);
      // Each frame as "function at file:line", threads of the same stack counted once.
      const stacks = new Map();
      let frames = null;
      for (const line of out.split('\n')) {
        if (line.startsWith('Thread ')) {
          frames = [];
          stacks.set(frames, 1);
        } else if (frames && line.startsWith('#')) {
          const fn = line.replace(/^#\d+\s+(0x[0-9a-f]+ in )?/, '').replace(/ \(.*$/, '');
          const at = / (at|from) (\S+)$/.exec(line);
          frames.push(`  ${fn}${at ? ` ${at[1]} ${path.basename(at[2])}` : ''}`);
        }
      }
      const counted = new Map();
      for (const f of stacks.keys()) {
        const key = f.join('\n');
        counted.set(key, (counted.get(key) ?? 0) + 1);
      }
      return [...counted].map(([k, n]) => `${n} thread(s):\n${k}`).join('\n');
    } catch (e) {
      return `(no stacks: ${String(e.message).split('\n')[0]})`;
    }
  }

  async stop() {
    if (this.running) {
      this.child.kill('SIGTERM');
      const killed = setTimeout(() => this.child.kill('SIGKILL'), 20000);
      await this.exited;
      clearTimeout(killed);
    }
    Sites.all.delete(this);
  }
}

// The newest link whose path is `pathPrefix` (e.g. '/account/register/confirm') with a token, in
// a mail to `email` in the outbox of the main site at `mainDir` (SITE_DIR/mail/pending;
// quoted-printable undone); waits for it.
export async function mailLink(mainDir, email, pathPrefix) {
  const dir = path.join(mainDir, 'mail', 'pending');
  const escaped = pathPrefix.replace(/[.?*+^$()[\]{}|\\]/g, '\\$&');
  const link = new RegExp(`https?://[^\\s]+${escaped}\\?token=[A-Za-z0-9_-]{43}`);
  let found = null;
  await waitUntil(`a mail to ${email} with a link to ${pathPrefix}`, async () => {
    if (!fs.existsSync(dir)) return false;
    for (const name of fs.readdirSync(dir).sort().reverse()) {
      const text = fs.readFileSync(path.join(dir, name), 'utf8');
      if (!text.toLowerCase().includes(`<${email.toLowerCase()}>`)) continue;
      const m = text.replace(/=\r\n/g, '').replace(/=3D/g, '=').match(link);
      if (m) {
        found = m[0];
        return true;
      }
    }
    return false;
  }, { deadlineMs: 15000, everyMs: 100 });
  return found;
}

export class Sites {
  static all = new Set();

  // binary: the built tieup; logDir: where each process's output goes.
  constructor(binary, logDir) {
    this.binary = binary;
    this.logDir = logDir;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tieup-browser-'));
    fs.rmSync(logDir, { recursive: true, force: true });
    fs.mkdirSync(logDir, { recursive: true });
    this.procs = {};
  }

  // A site's data directory ('main', 'shop-a', 'shop-b').
  siteDir(site) { return path.join(this.dir, 'demo', site); }

  // Runs a `tieup` command (e.g. `main product set-price DIR SKU PRICE`) as its own process,
  // as a site manager would beside the running daemons; resolves to its standard output and
  // fails with its output when it exits with an error. Each command and its output go to
  // logs/cli.log.
  tieup(...args) {
    return new Promise((resolve, reject) => {
      execFile(this.binary, args, { timeout: 30000 }, (error, stdout, stderr) => {
        fs.appendFileSync(path.join(this.logDir, 'cli.log'),
                          `$ tieup ${args.join(' ')}\n${stdout}${stderr}` +
                          (error ? `(failed: ${error.code ?? error.signal})\n` : '') + '\n');
        if (error) {
          reject(new Error(`tieup ${args.join(' ')} failed (${error.code ?? error.signal}): ` +
                           `${(stderr || stdout).trim()}`));
        } else {
          resolve(stdout);
        }
      });
    });
  }

  // The newest link to `pathPrefix` in a mail to `email` in main's outbox (mailLink below).
  mailLink(email, pathPrefix) { return mailLink(this.siteDir('main'), email, pathPrefix); }

  // A site's public page, as the demo serves it: each site on a loopback address of its own
  // (main 127.0.0.1, shop-a 127.0.0.2, shop-b 127.0.0.3), so that the browser keeps each site's
  // cookies apart, as it would for sites on different host names.
  url(site, p = '/') {
    const offset = { main: 0, 'shop-a': 1, 'shop-b': 2 }[site];
    return `http://127.0.0.${1 + offset}:${this.base + offset}${p}`;
  }

  // A manager's console (main's at P+10, 'shop-a' at P+11, 'shop-b' at P+12, as the demo sets
  // them).
  consoleUrl(site, p = '/') {
    const offset = { main: 10, 'shop-a': 11, 'shop-b': 12 }[site];
    return `http://127.0.0.1:${this.base + offset}${p}`;
  }

  // Creates the demo's sites and serves `serve` (by default main and shop-a; add 'shop-b' for
  // the partner whose manager approves updates: its first update then waits for approval).
  async create({ serve = ['main', 'shop-a'] } = {}) {
    this.base = await freeBasePort();
    const demo = new TieupProcess(
        this.binary, ['demo', path.join(this.dir, 'demo'), '--base-port', String(this.base)],
        path.join(this.logDir, 'demo.log'));
    try {
      await demo.waitReady('the demo: main and shop-a serving their pages', async () =>
        (await httpStatus(this.url('main'))) === 200 &&
        (await httpStatus(this.url('shop-a', '/products/sencha.html'))) === 200);
      if (serve.includes('shop-b')) {
        // The demo's first publish to shop-b is done once main has recorded its answer.
        await demo.waitReady("the demo: shop-b's first update waiting for its manager", async () =>
          /shop-b .*waiting for the partner manager/.test(
              await this.tieup('main', 'status', this.siteDir('main'))));
      }
    } finally {
      await demo.stop();
    }
    if (process.env.TIEUP_TEST_STORE === 'postgres') {
      // The browser.pg_* run: main's store moves to the cluster make test started, as a manager
      // moves it, and every page below is served from PostgreSQL.
      const url = process.env.TIEUP_TEST_POSTGRES_URL;
      assert.ok(url, 'TIEUP_TEST_STORE=postgres needs scripts/with-postgres.sh (make test)');
      const out = await this.tieup('main', 'store', 'migrate', this.siteDir('main'), '--to',
                                   'postgres', url, '--schema', `browser_${this.base}`);
      assert.match(out, /every table's rows and content checked equal/);
    }
    for (const site of serve) await this.start(site);
  }

  // Serves one site on its own ('main', 'shop-a' or 'shop-b') and waits until it answers: a
  // page and its manager console.
  async start(site) {
    const role = site === 'main' ? 'main' : 'partner';
    const p = new TieupProcess(this.binary, [role, 'serve', path.join(this.dir, 'demo', site)],
                               path.join(this.logDir, `${site}.log`));
    this.procs[site] = p;
    // shop-b serves no tie-up page before its manager approves the first update.
    const page = { main: '/', 'shop-a': '/products/sencha.html', 'shop-b': '/local/' }[site];
    await p.waitReady(`${site} serving ${page}`, () => answers(this.url(site, page)));
    await p.waitReady(`${site}'s manager console`,
                      () => answers(this.consoleUrl(site, '/sign-in')));
  }

  // Stops one site and waits until its port no longer answers.
  async stop(site) {
    const p = this.procs[site];
    if (!p) return;
    await p.stop();
    delete this.procs[site];
    await waitUntil(`${site} to stop answering`,
                    async () => (await httpStatus(this.url(site))) === 0, { deadlineMs: 15000 });
  }

  async close() {
    for (const site of Object.keys(this.procs)) await this.procs[site].stop();
    this.procs = {};
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// Last resort when the runner ends abruptly: no tieup process outlives the test.
process.on('exit', () => {
  for (const p of Sites.all) if (p.running) p.child.kill('SIGKILL');
});

// --- What the customer sees ---

// A regular expression for an amount of yen as a shop may show it: "¥4,200", "JP¥4,200",
// "4,200 JPY", "JPY 4,200", "4,200円" (the digits grouped by thousands, no decimals). A comma
// or full stop after the amount ends a clause ("... to ¥1,500."), unless a digit follows.
export function yen(amount) {
  const digits = amount.toLocaleString('en-US');
  return `(?:(?:[¥￥]|JP¥|JPY)\\s?${digits}(?!\\d|[,.]\\d)|(?<![\\d,.])${digits}\\s?(?:JPY|円))`;
}

export function yenRe(amount, flags = '') { return new RegExp(yen(amount), flags); }

// A journey: numbered full-page screenshots and a list of failed checks, which go on being
// collected while the journey can go on; `finish` fails the test with all of them.
export class Journey {
  constructor(name, page, dir, t) {
    this.name = name;
    this.page = page;
    this.dir = dir;
    this.t = t;
    this.step = 0;
    this.failures = [];
    this.stepName = '';
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
  }

  // Names the step and keeps a screenshot of the page as it is now (the journey's page, or
  // another tab of the same customer).
  async shot(name, page = this.page) {
    this.step += 1;
    this.stepName = `${String(this.step).padStart(2, '0')}-${name}`;
    await page.screenshot({ path: path.join(this.dir, `${this.stepName}.png`), fullPage: true });
    this.t.diagnostic(`${this.name}/${this.stepName}: ${page.url()}`);
  }

  // A check that does not stop the journey.
  async check(what, fn) {
    try {
      await fn();
    } catch (e) {
      const msg = `[${this.stepName}] ${what}: ${String(e.message).split('\n')[0]}`;
      this.failures.push(msg);
      this.t.diagnostic(`FAILED ${msg}`);
    }
  }

  // A check the rest of the journey depends on: it ends the journey when it fails.
  async must(what, fn) {
    try {
      return await fn();
    } catch (e) {
      this.failures.push(`[${this.stepName}] ${what}: ${String(e.message).split('\n')[0]} ` +
                         '(the journey stopped here)');
      throw new JourneyStopped();
    }
  }

  finish() {
    if (this.failures.length > 0) {
      throw new Error(`${this.failures.length} check(s) failed in journey ${this.name}:\n  ` +
                      this.failures.join('\n  '));
    }
  }
}

export class JourneyStopped extends Error {}

// Runs `body(journey)`, then fails with every failed check (a stopped journey included).
export async function runJourney(name, t, context, dir, body) {
  const page = await context.newPage();
  const j = new Journey(name, page, dir, t);
  try {
    await body(j);
  } catch (e) {
    if (!(e instanceof JourneyStopped)) {
      j.failures.push(`[${j.stepName}] ${String(e.message).split('\n')[0]} (the journey stopped ` +
                      'here)');
    }
    await page.screenshot({ path: path.join(dir, `${j.stepName || '00'}-stopped.png`),
                            fullPage: true }).catch(() => {});
  } finally {
    await context.close();
  }
  j.finish();
}
