import { expect, test, type Browser, type Page } from "@playwright/test";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const SCREENSHOT = resolve(REPO, "docs/images/web-client.png");

interface Person {
  page: Page;
  username: string;
  displayName: string;
}

const run = Math.random().toString(36).slice(2, 8);

async function signUp(browser: Browser, name: string): Promise<Person> {
  const context = await browser.newContext({ baseURL: process.env.WEB_BASE_URL });
  const page = await context.newPage();
  const username = `${name.toLowerCase()}_${run}`;
  await page.goto("/");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByLabel("Email").fill(`${username}@example.com`);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Display name").fill(name);
  await page.getByLabel("Password").fill("correct horse battery staple");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("list", { name: "Friends" })).toBeVisible();
  return { page, username, displayName: name };
}

const messages = (page: Page) => page.getByRole("list", { name: "Messages" });
const messageItems = (page: Page, text: string) => messages(page).getByRole("listitem").filter({ hasText: text });

test("two people befriend, chat live, react, and survive a dropped connection", async ({ browser }) => {
  const alice = await signUp(browser, "Alice");
  const bob = await signUp(browser, "Bob");

  // Alice finds Bob and asks to be friends; Bob accepts.
  await alice.page.getByRole("textbox", { name: "Find people" }).fill(bob.username);
  await alice.page.getByRole("button", { name: "Search" }).click();
  await alice.page.getByRole("button", { name: "Add friend" }).click();
  await expect(alice.page.getByRole("list", { name: "Sent requests" })).toContainText("Bob");
  await bob.page.getByRole("button", { name: "Accept" }).click();
  await expect(bob.page.getByRole("list", { name: "Friends" }).getByRole("listitem")).toContainText("Alice");
  await expect(alice.page.getByRole("list", { name: "Friends" }).getByRole("listitem")).toContainText("Bob");

  // Alice opens the direct room and writes; Enter sends, Shift+Enter breaks the line.
  await alice.page.getByRole("list", { name: "Friends" }).getByRole("button", { name: /Bob/ }).click();
  const aliceBox = alice.page.getByRole("textbox", { name: "Message" });
  await aliceBox.fill("Hello Bob");
  await aliceBox.press("Shift+Enter");
  await aliceBox.pressSequentially("second line");
  await aliceBox.press("Enter");
  await expect(messageItems(alice.page, "Hello Bob")).toHaveCount(1);
  await expect(aliceBox).toHaveValue("");

  // Bob sees the room appear live with its last message and an unread badge, opens it, answers.
  const bobRoom = bob.page.getByRole("list", { name: "Rooms" }).getByRole("listitem").filter({ hasText: "Alice" });
  await expect(bobRoom).toContainText("second line");
  await expect(bobRoom.getByLabel(/unread/)).toHaveText("1");
  await bobRoom.getByRole("button").click();
  await expect(messages(bob.page).getByText("Hello Bob\nsecond line")).toBeVisible();
  // Typing shows on the other side while Bob writes.
  await bob.page.getByRole("textbox", { name: "Message" }).pressSequentially("Hi Alice");
  await expect(alice.page.getByText("Bob is typing…")).toBeVisible();
  await bob.page.getByRole("button", { name: "Send" }).click();
  await expect(messageItems(alice.page, "Hi Alice")).toHaveCount(1);

  // A reaction travels too.
  await messageItems(alice.page, "Hi Alice").getByRole("button", { name: "React with 👍" }).click();
  await expect(messageItems(bob.page, "Hi Alice").getByRole("button", { name: "React with 👍 (1)" })).toBeVisible();

  // Mentions complete from the room's members: "@ali", Enter picks Alice's username, Enter then sends.
  const bobBox = bob.page.getByRole("textbox", { name: "Message" });
  await bobBox.pressSequentially("see you @ali");
  await bob.page.getByRole("listbox", { name: "mentions" }).getByRole("option", { name: `@${alice.username}` }).waitFor();
  await bobBox.press("Enter");
  await expect(bobBox).toHaveValue(`see you @${alice.username} `);
  await bobBox.press("Enter");
  await expect(messageItems(alice.page, `see you @${alice.username}`)).toHaveCount(1);

  // Alice's connection drops: Bob keeps writing, Alice writes into her queue.
  await alice.page.context().setOffline(true);
  await expect(alice.page.getByRole("status").filter({ hasText: "offline" })).toBeVisible();
  for (const text of ["while you were away 1", "while you were away 2"]) {
    await bob.page.getByRole("textbox", { name: "Message" }).fill(text);
    await bob.page.keyboard.press("Enter");
    // Stored (no longer pending) before Alice writes, so the room's order is known.
    await expect(messageItems(bob.page, text).and(bob.page.locator("li:not([aria-busy])"))).toHaveCount(1);
  }
  await aliceBox.fill("written offline");
  await aliceBox.press("Enter");
  await expect(messageItems(alice.page, "written offline")).toContainText("waiting for the connection");

  // Back online: the stream resumes from its last event id, the queue flushes; nothing lost, nothing doubled.
  const afterOutage: { method: string; url: URL }[] = [];
  alice.page.on("request", (request) => afterOutage.push({ method: request.method(), url: new URL(request.url()) }));
  await alice.page.context().setOffline(false);
  for (const text of ["while you were away 1", "while you were away 2"]) {
    await expect(messageItems(alice.page, text)).toHaveCount(1);
  }
  await expect(messageItems(bob.page, "written offline")).toHaveCount(1);
  await expect(messageItems(alice.page, "written offline")).not.toContainText("waiting");
  await expect(messageItems(alice.page, "written offline")).toHaveCount(1);
  await expect(alice.page.getByRole("status")).toHaveCount(0);
  await expect(alice.page.getByRole("alert")).toHaveCount(0);
  const aliceTexts = await messages(alice.page).locator(".text").allTextContents();
  expect(aliceTexts).toEqual([
    "Hello Bob\nsecond line",
    "Hi Alice",
    `see you @${alice.username}`,
    "while you were away 1",
    "while you were away 2",
    "written offline",
  ]);

  // Bob's messages came through the stream's replay, not a re-read of the history (a `reset` would do that).
  const streams = afterOutage.filter(({ url }) => url.pathname === "/api/stream");
  expect(streams.length).toBeGreaterThan(0);
  expect(streams[0].url.searchParams.get("last_event_id")).toBeTruthy();
  const historyReads = afterOutage.filter(
    ({ method, url }) => method === "GET" && /^\/api\/rooms\/\d+\/messages$/.test(url.pathname),
  );
  expect(historyReads).toEqual([]);

  if (process.env.WEB_SCREENSHOT) await alice.page.screenshot({ path: SCREENSHOT });
});
