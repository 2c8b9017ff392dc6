/**
 * `npm run screenshots`: starts a server on a temporary data directory, lets
 * a few people have real, end-to-end encrypted conversations in the system
 * Chromium, and saves the main screens at desktop and phone width, light and
 * dark, into docs/screenshots/. Stops everything it started.
 *
 * `npm run screenshots -- --moments-only` saves only the Moments screens.
 *
 * Text in Chinese, Arabic and emoji needs fonts: on Debian
 * `apt-get install -y fonts-noto-core fonts-noto-cjk fonts-noto-color-emoji`.
 */
import { mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import type { Browser, Page } from 'playwright-core';
import { closeSettings, expectMessage, launchBrowser, openApp, openApproval, openConversation, openRequests, register, sendText, startLinking, type User } from './helpers/browser.js';
import { TestServer } from './helpers/server.js';

const OUT = new URL('../docs/screenshots/', import.meta.url).pathname;
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

async function photo(browser: Browser): Promise<Buffer> {
  const page = await browser.newPage({ viewport: { width: 640, height: 480 } });
  await page.setContent(`<body style="margin:0"><div style="width:640px;height:480px;position:relative;overflow:hidden;background:linear-gradient(180deg,#ff9a5a 0%,#ff6f61 38%,#6b4c9a 70%,#1e2a4a 100%)">
    <div style="position:absolute;left:380px;top:170px;width:120px;height:120px;border-radius:50%;background:radial-gradient(circle,#fff6c9,#ffd36b 60%,rgba(255,200,90,0) 72%)"></div>
    <svg viewBox="0 0 640 480" style="position:absolute;inset:0"><path d="M0 330 L90 250 L170 310 L260 220 L360 320 L450 260 L540 320 L640 270 L640 480 L0 480Z" fill="#2a2346"/><path d="M0 390 L120 330 L230 380 L340 320 L470 390 L640 340 L640 480 L0 480Z" fill="#16162b"/></svg></div></body>`);
  const png = await page.screenshot();
  await page.close();
  return png;
}

/** A profile picture drawn in the page: a soft gradient with a head-and-shoulders shape (no real face). */
async function portrait(page: Page, hue: number): Promise<Buffer> {
  const dataUrl = await page.evaluate((h) => {
    const c = document.createElement('canvas');
    c.width = 600;
    c.height = 600;
    const ctx = c.getContext('2d');
    if (ctx === null) throw new Error('no canvas');
    const bg = ctx.createLinearGradient(0, 0, 600, 600);
    bg.addColorStop(0, `hsl(${h} 75% 72%)`);
    bg.addColorStop(1, `hsl(${(h + 40) % 360} 65% 48%)`);
    ctx.fillStyle = bg;
    ctx.fillRect(0, 0, 600, 600);
    ctx.fillStyle = `hsl(${h} 35% 22% / 0.85)`;
    ctx.beginPath();
    ctx.arc(300, 250, 110, 0, Math.PI * 2);
    ctx.fill();
    ctx.beginPath();
    ctx.ellipse(300, 600, 220, 190, 0, Math.PI, 0);
    ctx.fill();
    return c.toDataURL('image/png');
  }, hue);
  return Buffer.from(dataUrl.slice(dataUrl.indexOf(',') + 1), 'base64');
}

/** Settings → profile: display name, about line and picture, saved (the app scales the picture down). */
async function setProfile(user: User, displayName: string, about: string, hue: number): Promise<void> {
  const picture = await portrait(user.page, hue);
  await user.page.getByRole('button', { name: 'Settings' }).click();
  const settings = user.page.getByRole('dialog', { name: 'Settings' });
  await settings.getByLabel('Display name').fill(displayName);
  await settings.getByLabel('About').fill(about);
  const [chooser] = await Promise.all([user.page.waitForEvent('filechooser'), settings.getByRole('button', { name: 'Change picture' }).click()]);
  await chooser.setFiles({ name: 'me.png', mimeType: 'image/png', buffer: picture });
  await settings.getByRole('button', { name: 'Save profile' }).click();
  await settings.getByRole('status').filter({ hasText: 'Profile saved' }).waitFor({ timeout: 30_000 });
  await closeSettings(user);
}

/** New chat → a username; resolves once the chat is open (its title is the person's display name once known). */
async function startChatWith(user: User, username: string): Promise<void> {
  await user.page.getByRole('button', { name: 'New chat' }).click();
  const dialog = user.page.getByRole('dialog', { name: 'New chat' });
  await dialog.getByLabel('Username').fill(username);
  await dialog.getByRole('button', { name: 'Start chat' }).click();
  await dialog.waitFor({ state: 'detached', timeout: 30_000 });
  await user.page.getByRole('textbox', { name: 'Message' }).waitFor();
}

/** Opens the chat listed under `name` (a display name shows once that person's profile has arrived). */
async function openChatWith(user: User, name: string): Promise<void> {
  await user.page.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: new RegExp(`^${name}`) }).click({ timeout: 60_000 });
  await user.page.getByRole('heading', { level: 2, name }).waitFor({ timeout: 10_000 });
}

async function sendImage(user: User, name: string, buffer: Buffer, caption: string): Promise<void> {
  await user.page.getByLabel('Attach file').setInputFiles({ name, mimeType: 'image/png', buffer });
  await user.page.getByRole('textbox', { name: 'Message' }).fill(caption);
  await user.page.getByRole('button', { name: 'Send' }).click();
}

/** Opens a message's "Message actions" menu and picks an item. */
async function messageAction(user: User, text: string, item: 'Reply' | 'React' | 'Edit'): Promise<void> {
  const m = user.page.getByRole('log', { name: 'Messages' }).getByRole('article').filter({ hasText: text }).last();
  await m.hover();
  await m.getByRole('button', { name: 'Message actions' }).click();
  await user.page.getByRole('menu', { name: 'Message actions' }).getByRole('menuitem', { name: item }).click();
}

async function shoot(page: Page, name: string): Promise<void> {
  await page.waitForTimeout(400);
  await page.screenshot({ path: `${OUT}${name}.png` });
  console.log(`docs/screenshots/${name}.png`);
}

/** A landscape drawn in the page for a post's photo: sky, sun and hills in a hue (no real place). */
async function scene(page: Page, hue: number, width = 1600, height = 1200): Promise<Buffer> {
  const dataUrl = await page.evaluate(
    ([h, w, ht]) => {
      const c = document.createElement('canvas');
      c.width = w;
      c.height = ht;
      const ctx = c.getContext('2d');
      if (ctx === null) throw new Error('no canvas');
      const sky = ctx.createLinearGradient(0, 0, 0, ht);
      sky.addColorStop(0, `hsl(${h} 75% 78%)`);
      sky.addColorStop(0.6, `hsl(${(h + 30) % 360} 70% 62%)`);
      sky.addColorStop(1, `hsl(${(h + 200) % 360} 40% 30%)`);
      ctx.fillStyle = sky;
      ctx.fillRect(0, 0, w, ht);
      ctx.fillStyle = `hsl(${(h + 20) % 360} 95% 88% / 0.9)`;
      ctx.beginPath();
      ctx.arc(w * 0.68, ht * 0.38, ht * 0.11, 0, Math.PI * 2);
      ctx.fill();
      for (const [y, l] of [
        [0.62, 32],
        [0.74, 22],
        [0.86, 14],
      ] as const) {
        ctx.fillStyle = `hsl(${(h + 220) % 360} 35% ${l}%)`;
        ctx.beginPath();
        ctx.moveTo(0, ht);
        for (let x = 0; x <= w; x += w / 8) ctx.lineTo(x, ht * y + Math.sin(x / (w / 5) + y * 9) * ht * 0.05);
        ctx.lineTo(w, ht);
        ctx.fill();
      }
      return c.toDataURL('image/jpeg', 0.9);
    },
    [hue, width, height] as const,
  );
  return Buffer.from(dataUrl.slice(dataUrl.indexOf(',') + 1), 'base64');
}

/** Moments → "New post": text, location, photos; posted to all friends. */
async function postMoment(user: User, text: string, location: string | null, photos: Buffer[]): Promise<void> {
  await user.page.getByRole('button', { name: 'New post' }).click();
  const dialog = user.page.getByRole('dialog', { name: 'New post' });
  await dialog.getByRole('textbox', { name: "What's on your mind" }).fill(text);
  if (location !== null) await dialog.getByLabel('Location (optional)').fill(location);
  if (photos.length > 0) {
    await dialog.getByLabel('Choose photos').setInputFiles(photos.map((buffer, i) => ({ name: `photo-${i + 1}.jpg`, mimeType: 'image/jpeg', buffer })));
    await dialog.getByRole('list', { name: 'Photos to post' }).getByRole('img').nth(photos.length - 1).waitFor({ timeout: 30_000 });
  }
  await dialog.getByRole('button', { name: 'Post', exact: true }).click();
  await dialog.waitFor({ state: 'detached', timeout: 60_000 });
}

async function openMoments(user: User): Promise<void> {
  await user.page.getByRole('navigation', { name: 'Moments' }).getByRole('button', { name: /^Moments/ }).click();
  await user.page.getByRole('feed', { name: 'Timeline' }).waitFor({ state: 'attached', timeout: 30_000 });
}

function moment(user: User, text: string) {
  return user.page.getByRole('feed', { name: 'Timeline' }).getByRole('article').filter({ hasText: text });
}

/** Moments: three friends post, like and comment; Inês's timeline (desktop and phone, light and dark), the composer, settings, notices. */
async function momentsScreens(browser: Browser, url: string): Promise<void> {
  const ines = await register(browser, url, 'ines');
  const tomas = await register(browser, url, 'tomas');
  const aiko = await register(browser, url, 'aiko');
  const people = { ines: 'Inês Ferreira', tomas: 'Tomás Rivera', aiko: 'Aiko Tanaka' };
  await setProfile(ines, people.ines, 'Baking and long walks', 28);
  await setProfile(tomas, people.tomas, 'Trails every Sunday', 160);
  await setProfile(aiko, people.aiko, 'Photos of small things', 320);
  // Friends are mutual contacts: a chat accepted on the other side makes both contacts.
  for (const [a, b] of [
    [ines, tomas],
    [ines, aiko],
    [tomas, aiko],
  ] as const) {
    await startChatWith(a, b.username);
    await sendText(a, 'Hi!');
    const requests = await openRequests(b);
    await requests.getByRole('listitem').getByRole('button').first().click({ timeout: 60_000 });
    await b.page.getByRole('group', { name: 'Answer the request' }).getByRole('button', { name: 'Accept' }).click();
    await b.page.getByRole('textbox', { name: 'Message' }).waitFor({ timeout: 30_000 });
  }
  for (const u of [ines, tomas, aiko]) {
    await openMoments(u);
    await u.page.getByRole('button', { name: 'New post' }).click();
    await u.page.getByRole('dialog', { name: 'New post' }).getByRole('radio', { name: 'All friends (2)' }).waitFor({ timeout: 90_000 });
    await u.page.keyboard.press('Escape');
  }

  await postMoment(aiko, 'Cherry blossoms along the river this morning 🌸 Went before work and had the whole path to myself.', 'Kyoto', [
    await scene(aiko.page, 330),
    await scene(aiko.page, 350),
    await scene(aiko.page, 10),
    await scene(aiko.page, 300),
  ]);
  await postMoment(tomas, 'The new trail guide is out: https://example.org/trails — who is in for Sunday? Leaving at 7 from the usual spot.', 'Serra da Estrela', []);
  await postMoment(ines, 'First attempt at pastéis de nata. The tops could be darker, but they are gone already 😄', 'Lisbon', [await scene(ines.page, 35, 1600, 1100)]);

  const nata = 'First attempt at pastéis de nata';
  await moment(tomas, nata).waitFor({ timeout: 60_000 });
  await moment(tomas, nata).getByRole('button', { name: 'Like', exact: true }).click();
  await moment(tomas, nata).getByRole('button', { name: 'Comment', exact: true }).click();
  await moment(tomas, nata).getByRole('textbox', { name: 'Write a comment' }).fill('Save me one for Sunday!');
  await moment(tomas, nata).getByRole('textbox', { name: 'Write a comment' }).press('Enter');
  await moment(aiko, nata).waitFor({ timeout: 60_000 });
  await moment(aiko, nata).getByRole('button', { name: 'Like', exact: true }).click();
  await moment(ines, 'Save me one for Sunday!').waitFor({ timeout: 60_000 });
  await moment(ines, nata).getByText('Save me one for Sunday!').click();
  await moment(ines, nata).getByRole('textbox', { name: 'Write a comment' }).fill('Only if you bring the coffee ☕');
  await moment(ines, nata).getByRole('textbox', { name: 'Write a comment' }).press('Enter');
  const blossoms = 'Cherry blossoms along the river';
  await moment(ines, blossoms).waitFor({ timeout: 60_000 });
  await moment(ines, blossoms).getByRole('button', { name: 'Like', exact: true }).click();
  await moment(ines, nata).getByText(new RegExp(`Liked by .*${people.aiko}`)).waitFor({ timeout: 60_000 });
  await moment(ines, 'Only if you bring the coffee').waitFor({ timeout: 30_000 });
  await moment(ines, 'The new trail guide').waitFor({ timeout: 60_000 });
  for (const name of [people.tomas, people.aiko]) await ines.page.getByRole('feed', { name: 'Timeline' }).getByRole('button', { name, exact: true }).first().locator('.avatar img').waitFor({ timeout: 60_000 });
  await ines.page.getByRole('feed', { name: 'Timeline' }).getByRole('list', { name: 'Photos' }).getByRole('img').nth(4).waitFor();

  const page = ines.page;
  await page.getByRole('button', { name: 'Visibility and lists' }).click();
  await page.getByRole('dialog', { name: 'Visibility and lists' }).getByRole('button', { name: 'New list' }).click();
  const editor = page.getByRole('dialog', { name: 'New list' });
  await editor.getByLabel('List name').fill('Close friends');
  await editor.getByRole('checkbox', { name: people.aiko }).check();
  await editor.getByRole('button', { name: 'Save list' }).click();
  await page.getByRole('dialog', { name: 'Visibility and lists' }).getByRole('list', { name: 'Lists' }).getByText('Close friends').waitFor({ timeout: 30_000 });
  await page.keyboard.press('Escape');
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.setViewportSize(DESKTOP);
    await page.getByRole('feed', { name: 'Timeline' }).evaluate((el) => el.closest('.moment-scroll')?.scrollTo(0, 0));
    await shoot(page, `moments-desktop-${scheme}`);
    await page.getByRole('button', { name: 'New post' }).click();
    const dialog = page.getByRole('dialog', { name: 'New post' });
    await dialog.getByRole('textbox', { name: "What's on your mind" }).fill('Sunday trail, anyone?');
    await dialog.getByLabel('Choose photos').setInputFiles([{ name: 'trail.jpg', mimeType: 'image/jpeg', buffer: await scene(page, 120) }]);
    await dialog.getByRole('list', { name: 'Photos to post' }).getByRole('img').waitFor({ timeout: 30_000 });
    await shoot(page, `moments-new-post-desktop-${scheme}`);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('button', { name: 'Visibility and lists' }).click();
    await page.getByRole('dialog', { name: 'Visibility and lists' }).getByRole('radio', { name: 'Last 6 months' }).waitFor();
    await shoot(page, `moments-settings-desktop-${scheme}`);
    await page.keyboard.press('Escape');
    await page.setViewportSize(PHONE);
    await page.getByRole('feed', { name: 'Timeline' }).evaluate((el) => el.closest('.moment-scroll')?.scrollTo(0, 0));
    await shoot(page, `moments-phone-${scheme}`);
    await page.getByRole('button', { name: /^Notices/ }).click();
    await page.getByRole('list', { name: 'Notices' }).waitFor({ timeout: 30_000 });
    await shoot(page, `moments-notices-phone-${scheme}`);
    await page.getByRole('button', { name: 'Back to timeline' }).click();
  }
  await page.setViewportSize(DESKTOP);
  for (const u of [ines, tomas, aiko]) await u.context.close();
}

async function main(): Promise<void> {
  // PARLEY_E2E_WEB_DIR: a build made elsewhere (e2e/helpers/server.ts serves it); otherwise apps/web/dist, rebuilt if stale.
  if (process.env['PARLEY_E2E_WEB_DIR'] === undefined) {
    const built = spawnSync(process.execPath, [new URL('../scripts/build-web.mjs', import.meta.url).pathname], { stdio: 'inherit' });
    if (built.status !== 0) throw new Error('web app build failed');
  }
  mkdirSync(OUT, { recursive: true });
  const server = await TestServer.start();
  // A fake microphone for the voice message.
  const browser = await launchBrowser({ fakeMedia: true });
  try {
    const url = server.url;
    await momentsScreens(browser, url);
    if (process.argv.includes('--moments-only')) return;
    const { page: signInPage, context: signInContext } = await openApp(browser, url);
    for (const scheme of ['light', 'dark'] as const) {
      await signInPage.emulateMedia({ colorScheme: scheme });
      await signInPage.setViewportSize(DESKTOP);
      await shoot(signInPage, `sign-in-desktop-${scheme}`);
      await signInPage.setViewportSize(PHONE);
      await shoot(signInPage, `sign-in-phone-${scheme}`);
    }
    await signInContext.close();

    const maya = await register(browser, url, 'maya');
    const daniel = await register(browser, url, 'daniel');
    const liwei = await register(browser, url, 'li.wei');
    const yusuf = await register(browser, url, 'yusuf');
    // Everyone fills in a profile first; names and pictures reach the others through their chats.
    const people = { maya: 'Maya Costa', daniel: 'Daniel Okafor', liwei: '李伟', yusuf: 'يوسف' };
    await setProfile(maya, people.maya, 'Sunrises, books and strong coffee', 18);
    await setProfile(daniel, people.daniel, 'Up hills before breakfast', 205);
    await setProfile(liwei, people.liwei, '在里斯本学葡萄牙语', 140);
    await setProfile(yusuf, people.yusuf, 'أحب الطبخ والسفر', 285);

    // A group first, so the 1:1 with Daniel is the most recent conversation.
    await maya.page.getByRole('button', { name: 'New group' }).click();
    const dialog = maya.page.getByRole('dialog', { name: 'New group' });
    await dialog.getByLabel('Group name').fill('Book club 📚');
    for (const n of ['daniel', 'li.wei', 'yusuf']) {
      await dialog.getByLabel('Add member').fill(n);
      await dialog.getByRole('button', { name: 'Add member' }).click();
      await dialog.getByRole('list', { name: 'People to add' }).getByText(n).waitFor();
    }
    await dialog.getByRole('button', { name: 'Create group' }).click();
    await maya.page.getByRole('heading', { level: 2, name: 'Book club 📚' }).waitFor({ timeout: 30_000 });
    await sendText(maya, 'Next month: "The Left Hand of Darkness"?');
    for (const [u, text] of [
      [liwei, '好主意！我一直想读这本书。'],
      [yusuf, 'موافق! سأحضر الكعك 🍰'],
      [daniel, 'Count me in. Thursday at 7?'],
    ] as const) {
      await openConversation(u, 'Book club 📚');
      await sendText(u, text);
      await expectMessage(maya, text);
    }

    await startChatWith(maya, 'li.wei');
    await sendText(maya, 'Are you still coming to Lisbon in May?');
    await openChatWith(liwei, people.maya);
    await sendText(liwei, '是的！机票已经订好了 ✈️');
    await expectMessage(maya, '机票');

    await startChatWith(maya, 'yusuf');
    await sendText(maya, 'Thanks for the recipe!');
    await openChatWith(yusuf, people.maya);
    await sendText(yusuf, 'بالهناء والشفاء 😊');
    await expectMessage(maya, 'بالهناء');

    await startChatWith(maya, 'daniel');
    await openChatWith(daniel, people.maya);
    const script: Array<[User, string]> = [
      [maya, 'Morning! Did you make it up the hill for the sunrise?'],
      [daniel, 'Barely 😅 Left at 5:40, got there with two minutes to spare.'],
      [maya, 'Worth it?'],
    ];
    for (const [u, text] of script) {
      await sendText(u, text);
      await expectMessage(u === maya ? daniel : maya, text);
    }
    await sendImage(daniel, 'sunrise.png', await photo(browser), 'Judge for yourself');
    await maya.page.getByRole('img', { name: 'sunrise.png' }).waitFor({ timeout: 30_000 });
    for (const [u, text] of [
      [maya, 'Wow. That light!'],
      [daniel, 'Next time you are coming with me.\nNo excuses this time.'],
    ] as Array<[User, string]>) {
      await sendText(u, text);
      await expectMessage(u === maya ? daniel : maya, text.split('\n')[0] ?? text);
    }
    // A reaction, a reply, an edit and a voice message.
    await messageAction(daniel, 'Wow. That light!', 'React');
    await daniel.page.getByRole('dialog', { name: 'Choose a reaction' }).getByRole('button', { name: 'React with ❤️' }).click();
    await messageAction(maya, 'Next time you are coming with me.', 'Reply');
    await sendText(maya, 'Deal — if there is coffee at the top ☕');
    await expectMessage(daniel, 'Deal — if there is coffee');
    await sendText(daniel, 'There will be cofee.');
    await expectMessage(maya, 'There will be cofee.');
    await messageAction(daniel, 'There will be cofee.', 'Edit');
    await daniel.page.getByRole('textbox', { name: 'Message' }).fill('There will be coffee.');
    await daniel.page.getByRole('textbox', { name: 'Message' }).press('Enter');
    await messageAction(maya, 'There will be coffee.', 'React');
    await maya.page.getByRole('dialog', { name: 'Choose a reaction' }).getByRole('button', { name: 'React with 👍' }).click();
    await maya.page.getByRole('button', { name: 'Record voice message' }).click();
    await maya.page.waitForTimeout(3200);
    await maya.page.getByRole('button', { name: 'Send' }).click();
    await daniel.page.getByRole('button', { name: 'Play voice message' }).waitFor({ timeout: 30_000 });
    await maya.page.getByRole('log', { name: 'Messages' }).getByText('Read', { exact: true }).last().waitFor({ timeout: 30_000 });
    // Unread badges in Maya's list: the group gets one more message while she reads Daniel.
    await openConversation(liwei, 'Book club 📚');
    await sendText(liwei, '周四见 👋');
    await maya.page.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: /^Book club.*1 unread/ }).waitFor({ timeout: 30_000 });

    const mayaList = maya.page.getByRole('navigation', { name: 'Conversations' });
    for (const name of [people.daniel, people.liwei, people.yusuf]) await mayaList.getByRole('button', { name: new RegExp(`^${name}`) }).locator('.avatar img').waitFor({ timeout: 60_000 });
    await daniel.page.getByRole('heading', { level: 2, name: people.maya }).waitFor({ timeout: 60_000 });

    // A stranger writes to Maya: the chat waits under Requests.
    const sam = await register(browser, url, 'sam');
    await startChatWith(sam, 'maya');
    await sendText(sam, 'Hi Maya! We met at the climbing wall on Saturday — you lent me your chalk bag 🙂');
    await expectMessage(sam, 'climbing wall');

    const page = maya.page;
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.setViewportSize(DESKTOP);
      await shoot(page, `chat-desktop-${scheme}`);

      // The message menu and the reaction picker.
      const last = page.getByRole('log', { name: 'Messages' }).getByRole('article').filter({ hasText: 'There will be coffee.' }).last();
      await last.hover();
      await last.getByRole('button', { name: 'Message actions' }).click();
      await page.getByRole('menu', { name: 'Message actions' }).waitFor();
      await shoot(page, `message-actions-desktop-${scheme}`);
      await page.getByRole('menuitem', { name: 'React' }).click();
      await page.getByRole('dialog', { name: 'Choose a reaction' }).waitFor();
      await shoot(page, `reaction-picker-desktop-${scheme}`);
      await page.keyboard.press('Escape');

      await page.getByRole('button', { name: 'Conversation options' }).click();
      await page.getByRole('menu', { name: 'Conversation options' }).getByRole('menuitem', { name: /^Disappearing messages/ }).click();
      await page.getByRole('dialog', { name: 'Disappearing messages' }).waitFor();
      await shoot(page, `disappearing-desktop-${scheme}`);
      await page.keyboard.press('Escape');

      await page.getByRole('button', { name: 'Conversation info' }).click();
      await page.getByRole('img', { name: 'Safety number QR code' }).waitFor({ timeout: 30_000 });
      await shoot(page, `contact-info-desktop-${scheme}`);
      await page.keyboard.press('Escape');

      await openConversation(maya, 'Book club 📚');
      await expectMessage(maya, '周四见');
      await shoot(page, `group-chat-desktop-${scheme}`);
      await page.getByRole('button', { name: 'Conversation info' }).click();
      await page.getByRole('dialog', { name: 'Group info' }).waitFor();
      await shoot(page, `group-info-desktop-${scheme}`);
      await page.keyboard.press('Escape');

      await page.getByRole('button', { name: 'Settings' }).click();
      await page.getByRole('dialog', { name: 'Settings' }).getByText('This device', { exact: true }).waitFor();
      await shoot(page, `settings-desktop-${scheme}`);
      await page.keyboard.press('Escape');

      // Contacts, and the stranger's request.
      await page.getByRole('navigation', { name: 'People' }).getByRole('button', { name: 'Contacts' }).click();
      await page.getByRole('dialog', { name: 'Contacts' }).getByRole('list', { name: 'Contacts' }).getByText(people.yusuf).waitFor({ timeout: 30_000 });
      await shoot(page, `contacts-desktop-${scheme}`);
      await page.keyboard.press('Escape');
      const requests = await openRequests(maya);
      await requests.getByRole('button', { name: /^sam/ }).click({ timeout: 30_000 });
      await page.getByRole('group', { name: 'Answer the request' }).waitFor();
      await expectMessage(maya, 'climbing wall');
      await shoot(page, `request-desktop-${scheme}`);

      await openConversation(maya, people.daniel);
      // Search over all chats, one result opened (scrolled to and flashed).
      const search = page.getByRole('search', { name: 'Search all chats' }).getByRole('searchbox', { name: 'Search messages' });
      const found = page.getByRole('list', { name: 'Search results' }).getByRole('button');
      await search.fill('coffee');
      await found.nth(1).waitFor({ timeout: 30_000 });
      await found.nth(1).click();
      await page.locator('article.highlight').waitFor({ timeout: 30_000 });
      await shoot(page, `search-desktop-${scheme}`);
      await search.fill('');
      await page.setViewportSize(PHONE);
      await shoot(page, `chat-phone-${scheme}`);
      const quoted = page.getByRole('log', { name: 'Messages' }).getByRole('article').filter({ hasText: 'Wow. That light!' }).last();
      await quoted.getByRole('button', { name: 'Message actions' }).click();
      await page.getByRole('menuitem', { name: 'Reply' }).click();
      await page.getByRole('textbox', { name: 'Message' }).fill('The colours');
      await shoot(page, `reply-phone-${scheme}`);
      await page.getByRole('button', { name: 'Cancel reply' }).click();
      await page.getByRole('textbox', { name: 'Message' }).fill('');
      await page.getByRole('button', { name: 'Back' }).click();
      await shoot(page, `list-phone-${scheme}`);
      await search.fill('the');
      await found.first().waitFor({ timeout: 30_000 });
      await shoot(page, `search-phone-${scheme}`);
      await search.fill('');
      await openConversation(maya, people.daniel);
    }

    // Linking a new device: the waiting screen on the new browser, the approval on Maya's.
    await page.setViewportSize(DESKTOP);
    const { user: laptop, code } = await startLinking(browser, url, 'maya');
    for (const scheme of ['light', 'dark'] as const) {
      await laptop.page.emulateMedia({ colorScheme: scheme });
      await laptop.page.setViewportSize(DESKTOP);
      await shoot(laptop.page, `link-pending-desktop-${scheme}`);
      await laptop.page.setViewportSize(PHONE);
      await shoot(laptop.page, `link-pending-phone-${scheme}`);
    }
    const approve = await openApproval(maya, code);
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await shoot(page, `approve-device-desktop-${scheme}`);
    }
    await approve.getByRole('button', { name: 'Approve' }).click();
    await page.getByRole('dialog', { name: 'Device linked' }).getByRole('button', { name: 'Done' }).click();
    await closeSettings(maya);
    await laptop.page.getByRole('button', { name: 'New chat' }).waitFor({ timeout: 60_000 });

    // Daniel's chat with Maya says her safety number changed.
    await daniel.page.getByRole('log', { name: 'Messages' }).getByText(new RegExp(`^(${people.maya}|maya)’s safety number changed`)).waitFor({ timeout: 30_000 });
    for (const scheme of ['light', 'dark'] as const) {
      await daniel.page.emulateMedia({ colorScheme: scheme });
      await shoot(daniel.page, `notice-desktop-${scheme}`);
    }
  } finally {
    await browser.close();
    await server.dispose();
  }
}

await main();
