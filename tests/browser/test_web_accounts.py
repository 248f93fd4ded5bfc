"""Accounts in the browser: the pending page and the administrator's approval, roles, API keys
shown once, password change and sign-out."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.support.web import WebStack, composer, sign_in, unique_email


def test_a_pending_account_waits_until_the_admin_approves_it(
    page: Page, open_context: Any, web_stack: WebStack
):
    admin = web_stack.admin()
    email = unique_email("newcomer")
    page.goto(web_stack.base_url + "/")
    page.get_by_role("button", name="Create one").click()
    page.get_by_label("Name").fill("Newcomer")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("newcomer password 1")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Awaiting approval")).to_be_visible()
    page.get_by_role("button", name="Check again").click()
    expect(page.get_by_role("heading", name="Awaiting approval")).to_be_visible()

    admin_page: Page = open_context()
    sign_in(admin_page, web_stack, admin)
    admin_page.get_by_role("link", name="Users").click()
    admin_page.get_by_role("button", name=f"Approve {email}").click()
    expect(admin_page.get_by_role("status")).to_contain_text("Newcomer is now an approved user")
    expect(admin_page.get_by_label(f"Role of {email}")).to_have_value("user")

    page.get_by_role("button", name="Check again").click()
    expect(composer(page)).to_be_visible()


def test_the_admin_changes_roles(page: Page, web_stack: WebStack):
    admin = web_stack.admin()
    other = web_stack.user("Other")
    sign_in(page, web_stack, admin)
    page.get_by_role("link", name="Users").click()
    page.get_by_label(f"Role of {other.email}").select_option("admin")
    expect(page.get_by_role("status")).to_contain_text("Other is now an administrator")
    users = web_stack.http.get("/api/v1/users/", headers=admin.headers).json()["users"]
    assert {u["email"]: u["role"] for u in users}[other.email] == "admin"
    # Your own role is not yours to change here (the last admin would lock everyone out).
    expect(page.get_by_label(f"Role of {admin.email}")).to_be_disabled()


def test_an_api_key_is_shown_once_copied_and_deleted(open_context: Any, web_stack: WebStack):
    page: Page = open_context(permissions=["clipboard-read", "clipboard-write"])
    sign_in(page, web_stack, web_stack.user())
    page.get_by_role("link", name="Settings").click()
    page.get_by_label("New key name").fill("my script")
    page.get_by_role("button", name="Create key").click()
    shown = page.get_by_role("textbox", name="New API key")
    key = shown.input_value()
    assert key.startswith("sk-")
    page.get_by_role("button", name="Copy the new API key").click()
    expect(page.get_by_role("button", name="Copy the new API key")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == key
    works = web_stack.http.get("/api/models", headers={"Authorization": f"Bearer {key}"})
    assert works.status_code == 200
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_role("textbox", name="New API key")).to_have_count(0)
    page.reload()
    expect(page.get_by_role("cell", name="my script", exact=True)).to_be_visible()
    assert key not in page.content()
    page.get_by_role("button", name="Delete key “my script”").click()
    expect(page.get_by_text("No keys yet.")).to_be_visible()
    gone = web_stack.http.get("/api/models", headers={"Authorization": f"Bearer {key}"})
    assert gone.status_code == 401


def test_password_change_then_sign_out_and_in_with_the_new_one(page: Page, web_stack: WebStack):
    user = web_stack.user()
    sign_in(page, web_stack, user)
    page.get_by_role("link", name="Settings").click()
    page.get_by_label("Current password").fill(user.password)
    page.get_by_label("New password", exact=True).fill("a brand new password 2")
    page.get_by_label("New password again").fill("a brand new password 2")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_contain_text("Password changed")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_contain_text("You have signed out")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    page.get_by_label("Password").fill("a brand new password 2")
    page.get_by_role("button", name="Sign in").click()
    expect(composer(page)).to_be_visible()
