import { expect, test } from "@playwright/test";

test("a refused log in shows the server's words, not a stack trace", async ({ browser }) => {
  const page = await (await browser.newContext({ baseURL: process.env.WEB_BASE_URL })).newPage();
  await page.goto("/");
  await page.getByLabel("Email").fill("nobody@example.com");
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Log in" }).click();
  const alert = page.getByRole("alert");
  await expect(alert).toBeVisible();
  await expect(alert).not.toContainText("Error:");
  await expect(alert).not.toContainText("at ");
  await expect(page.getByRole("button", { name: "Log in" })).toBeEnabled();
});

test("the UI speaks Korean to a Korean browser, and a reload keeps the session", async ({ browser }) => {
  const context = await browser.newContext({ baseURL: process.env.WEB_BASE_URL, locale: "ko-KR" });
  const page = await context.newPage();
  await page.goto("/");
  await expect(page.getByRole("button", { name: "로그인" })).toBeVisible();
  await page.getByRole("button", { name: "계정 만들기" }).click();
  const name = `kim_${Math.random().toString(36).slice(2, 8)}`;
  await page.getByLabel("이메일").fill(`${name}@example.com`);
  await page.getByLabel("사용자 이름").fill(name);
  await page.getByLabel("비밀번호").fill("비밀번호는충분히길어요");
  await page.getByRole("button", { name: "계정 만들기" }).click();
  await expect(page.getByRole("list", { name: "친구" })).toBeVisible();
  // The refresh token lives in this tab's sessionStorage: a reload signs in again without the form.
  await page.reload();
  await expect(page.getByRole("list", { name: "대화방" })).toBeVisible();
  await page.getByRole("button", { name: "로그아웃" }).click();
  await expect(page.getByRole("button", { name: "로그인" })).toBeVisible();
});
