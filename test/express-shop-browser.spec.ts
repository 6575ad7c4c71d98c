// The shop example in a real browser: Debian's headless Chromium, driven by playwright-core (which downloads
// no browser). Alice logs in, fills her cart from two tabs at once, sees both items, finds her two devices,
// and logs out everywhere: both tabs and her other device are logged out. Nothing is skipped: without
// Chromium the test fails and says how to install it.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { createShopApp, type Shop } from "../examples/shop/shop-app.js";
import { useSessiond } from "./helpers/fixture.js";

const CHROMIUM = process.env.CHROMIUM_BIN ?? "/usr/bin/chromium";
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

describe("the shop example in headless Chromium", function () {
  this.timeout(90_000);
  const env = useSessiond();
  const profiles: string[] = [];
  const devices: BrowserContext[] = [];
  let shop: Shop;
  let server: Server;
  let url: string;

  before(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium is not at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (.ci/run does), or set CHROMIUM_BIN`,
      );
    }
    shop = createShopApp({ client: env.client, addDelayMs: 400 });
    server = await new Promise((resolve) => {
      const listening = shop.app.listen(0, "127.0.0.1", () => resolve(listening));
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const device of devices) await device.close();
    for (const dir of profiles) rmSync(dir, { recursive: true, force: true });
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  // A device is a browser of its own: its own process and a new, empty profile.
  async function newDevice(): Promise<BrowserContext> {
    const profile = mkdtempSync(join(tmpdir(), "sessiond-chromium-"));
    profiles.push(profile);
    const device = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: ARGS, headless: true });
    devices.push(device);
    return device;
  }

  async function logIn(page: Page, user: string): Promise<void> {
    await page.goto(url);
    await page.fill("#user", user);
    await submit(page, "#login");
    expect(await page.textContent("#hello")).to.equal(`Hello, ${user}`);
  }

  // submit clicks a form's button and waits for the page it leads to (after the redirect).
  async function submit(page: Page, button: string): Promise<void> {
    const navigated = page.waitForEvent("framenavigated", (frame) => frame === page.mainFrame());
    await page.click(button);
    await navigated;
    await page.waitForLoadState();
  }

  const cartOf = async (page: Page) => (await page.locator("#cart .item").allTextContents()).sort();

  it("logs in, fills the cart from two tabs at once, lists the devices, and logs out everywhere", async () => {
    const laptop = await newDevice();
    const [firstTab] = laptop.pages();
    const tab1 = firstTab ?? (await laptop.newPage());
    await logIn(tab1, "alice");
    const tab2 = await laptop.newPage();
    await tab2.goto(url);
    expect(await tab2.textContent("#hello"), "the second tab shares the login").to.equal("Hello, alice");

    // Both tabs add at once; each request holds 400 ms between reading and saving the session.
    await Promise.all([submit(tab1, "#add-apples"), submit(tab2, "#add-pears")]);
    expect(shop.maxConcurrentAdds(), "the two adds were in progress at once").to.equal(2);
    await tab1.reload();
    expect(await cartOf(tab1)).to.deep.equal(["apples: 1", "pears: 1"]);

    const phone = await newDevice();
    const phoneTab = phone.pages()[0] ?? (await phone.newPage());
    await logIn(phoneTab, "alice");

    await tab1.goto(`${url}/devices`);
    expect(await tab1.locator("#devices tr.device").count(), "the laptop and the phone").to.equal(2);
    expect(await tab1.locator("#devices tr.current").count()).to.equal(1);
    expect(await tab1.locator("#devices tr.device td:nth-child(2)").first().textContent()).to.contain("Chrome");

    await submit(tab1, "#logout-everywhere");
    expect(await tab1.locator("#login").count(), "the tab that logged out").to.equal(1);
    for (const [name, page] of [
      ["the other tab", tab2],
      ["the phone", phoneTab],
    ] as const) {
      await page.reload();
      expect(await page.locator("#login").count(), name).to.equal(1);
      expect(await page.locator("#hello").count(), name).to.equal(0);
    }
  });
});
