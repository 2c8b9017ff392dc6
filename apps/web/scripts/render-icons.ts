/**
 * Renders the PNG app icons (192, 512, maskable 512) from the SVG sources in
 * public/icons with the system Chromium. Run after changing an SVG:
 *   node --import tsx apps/web/scripts/render-icons.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const dir = new URL('../public/icons/', import.meta.url);
const jobs = [
  { svg: 'icon.svg', out: 'icon-192.png', size: 192 },
  { svg: 'icon.svg', out: 'icon-512.png', size: 512 },
  { svg: 'maskable.svg', out: 'maskable-512.png', size: 512 },
];

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
try {
  const page = await browser.newPage();
  for (const job of jobs) {
    const svg = readFileSync(new URL(job.svg, dir), 'utf8');
    await page.setViewportSize({ width: job.size, height: job.size });
    await page.setContent(`<html><body style="margin:0;background:transparent">${svg.replace('<svg ', `<svg width="${job.size}" height="${job.size}" `)}</body></html>`);
    writeFileSync(new URL(job.out, dir), await page.screenshot({ omitBackground: true, clip: { x: 0, y: 0, width: job.size, height: job.size } }));
    console.log(`wrote ${job.out}`);
  }
} finally {
  await browser.close();
}
