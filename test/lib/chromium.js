'use strict';
// Debian's Chromium, headless, driven by playwright-core (installed in
// test/integration/node_modules by test/lib/node_modules.sh), for the
// browser tests: a fresh profile per run, the page's errors collected.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { chromium } = require(require.resolve('playwright-core', {
  paths: [path.join(__dirname, '..', 'integration'), ...module.paths],
}));

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

// Runs fn(page, problems) in a fresh browser and returns what it returns.
// `problems` collects page errors and, unless `consoleErrors` is false (a test
// that cuts connections on purpose), console errors but the favicon's (a
// server may serve none: the browser asks for it, not the page); any
// after fn fails the run. The browser closes and its profile goes,
// whatever happens.
async function withChromium(fn, { consoleErrors = true } = {}) {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no ${CHROMIUM} (scripts/deps.sh installs chromium)`);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'fanhub-chromium-'));
  let context = null;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      timeout: 30000,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--no-proxy-server'],
    });
    const page = context.pages()[0] || await context.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    if (consoleErrors) {
      page.on('console', (m) => {
        const url = (m.location() && m.location().url) || '';
        if (m.type() === 'error' && !url.endsWith('/favicon.ico')) {
          problems.push(`console error: ${m.text()} (${url})`);
        }
      });
    }
    const result = await fn(page, problems);
    if (problems.length) throw new Error(problems.join('; '));
    await context.close();
    context = null;
    return result;
  } finally {
    if (context) await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

module.exports = { withChromium };
