import { expect, test, type APIRequestContext } from "@playwright/test";

const PASSWORD = "correct horse battery staple";

/** A user made through the API (the same routes the client uses), logged in. */
async function apiUser(api: APIRequestContext, name: string) {
  const username = `${name}_${Math.random().toString(36).slice(2, 8)}`;
  const email = `${username}@example.com`;
  const created = await api.post("/api/auth/register", { data: { email, username, password: PASSWORD, display_name: name } });
  expect(created.status()).toBe(201);
  const { id } = await created.json();
  const login = await api.post("/api/auth/login/json", { data: { email, password: PASSWORD } });
  const { access_token } = await login.json();
  return { id: id as number, email, headers: { Authorization: `Bearer ${access_token}` } };
}

test("history pages upwards: the newest page first, older pages on scrolling up, each message once", async ({
  browser,
  playwright,
}) => {
  // Sixty sends one after another (their order is the room's): slow on a busy machine.
  test.setTimeout(300_000);
  const api = await playwright.request.newContext({ baseURL: process.env.WEB_BASE_URL });
  const mina = await apiUser(api, "Mina");
  const jun = await apiUser(api, "Jun");
  const request = await api.post("/api/friends/requests", { headers: mina.headers, data: { user_id: jun.id } });
  const { id: requestId } = await request.json();
  expect((await api.post(`/api/friends/requests/${requestId}/accept`, { headers: jun.headers })).ok()).toBe(true);
  // chat-service learns of the friendship from friend.events: retry until it lets the room be made.
  let roomId = 0;
  await expect(async () => {
    const room = await api.post("/api/rooms", { headers: mina.headers, data: { type: "direct", member_ids: [jun.id] } });
    expect(room.ok()).toBe(true);
    roomId = (await room.json()).id;
  }).toPass();
  for (let n = 1; n <= 60; n++) {
    const sent = await api.post(`/api/rooms/${roomId}/messages`, {
      headers: n % 2 ? mina.headers : jun.headers,
      data: { content: `history ${n}`, message_type: "text" },
    });
    expect(sent.status()).toBe(201);
  }

  const page = await (await browser.newContext({ baseURL: process.env.WEB_BASE_URL })).newPage();
  await page.goto("/");
  await page.getByLabel("Email").fill(mina.email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("list", { name: "Rooms" }).getByRole("button", { name: /Jun/ }).click();
  const messages = page.getByRole("list", { name: "Messages" });
  await expect(messages.getByText("history 60", { exact: true })).toBeVisible();
  await expect(messages.getByText("history 1", { exact: true })).toHaveCount(0);

  await messages.evaluate((list) => list.scrollTo({ top: 0 }));
  await expect(messages.getByText("history 1", { exact: true })).toHaveCount(1);
  await expect(page.getByText("This is the beginning of the conversation.")).toBeVisible();
  const texts = await messages.locator(".text").allTextContents();
  expect(texts).toEqual(Array.from({ length: 60 }, (_, i) => `history ${i + 1}`));
  await api.dispose();
});
