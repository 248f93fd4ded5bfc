"""Accounts in the browser: the pending page and the administrator's approval, roles, last
activity, a cleared sign-in lock, ended sessions and a deleted user (each destructive action
asked first), API keys shown once, password change and sign-out."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.support.auth import apply_env
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


def test_the_admin_sees_last_activity_clears_a_lock_ends_sessions_and_deletes_a_user(
    page: Page, web_stack: WebStack
):
    apply_env({"STRATUS_LOGIN_MAX_FAILURES": "2"})
    admin = web_stack.admin()
    victim = web_stack.user("Victim")
    key = web_stack.http.post(
        "/api/v1/auths/api_keys", json={"name": "script"}, headers=victim.headers
    ).json()["key"]
    quiet = unique_email("quiet")
    added = web_stack.http.post(
        "/api/v1/auths/add",
        json={"name": "Quiet", "email": quiet, "password": "a quiet password 1", "role": "user"},
        headers=admin.headers,
    )
    assert added.status_code == 200, added.text

    def sign_in_as_victim(password: str) -> int:
        body = {"email": victim.email, "password": password}
        return web_stack.http.post("/api/v1/auths/signin", json=body).status_code

    # Two wrong passwords lock the account: the right one is refused too.
    assert [sign_in_as_victim("wrong password 1") for _ in range(2)] == [401, 401]
    assert sign_in_as_victim(victim.password) == 429

    sign_in(page, web_stack, admin)
    page.get_by_role("link", name="Users").click()
    victim_row = page.get_by_role("row").filter(has_text=victim.email)
    # Last activity: the victim signed up (a session) just now; the added user never signed in.
    expect(victim_row).to_contain_text("just now")
    expect(page.get_by_role("row").filter(has_text=quiet)).to_contain_text("never")

    page.get_by_role("button", name=f"Clear the sign-in lock of {victim.email}").click()
    expect(page.get_by_role("status")).to_contain_text("Victim can sign in again")
    assert sign_in_as_victim(victim.password) == 200

    # Ending the sessions asks first; Cancel leaves everything as it was.
    page.get_by_role("button", name=f"End sessions {victim.email}").click()
    question = page.get_by_role("group", name=f"End sessions {victim.email}?")
    expect(question).to_contain_text("delete their API keys")
    question.get_by_role("button", name="Cancel").click()
    expect(question).to_have_count(0)
    assert web_stack.http.get("/api/v1/auths/", headers=victim.headers).status_code == 200
    page.get_by_role("button", name=f"End sessions {victim.email}").click()
    question.get_by_role("button", name="End sessions").click()
    expect(page.get_by_role("status")).to_contain_text("Victim was signed out everywhere")
    assert web_stack.http.get("/api/v1/auths/", headers=victim.headers).status_code == 401
    by_key = web_stack.http.get("/api/models", headers={"Authorization": f"Bearer {key}"})
    assert by_key.status_code == 401

    page.get_by_role("button", name=f"Delete {victim.email}").click()
    question = page.get_by_role("group", name=f"Delete {victim.email}?")
    expect(question).to_contain_text("cannot be undone")
    question.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_contain_text(f"Victim ({victim.email}) was deleted")
    expect(victim_row).to_have_count(0)
    users = web_stack.http.get("/api/v1/users/", headers=admin.headers).json()["users"]
    assert victim.email not in {u["email"] for u in users}
    # The admin's own row offers neither: an admin cannot end or delete themselves here.
    expect(page.get_by_role("button", name=f"Delete {admin.email}")).to_be_disabled()
