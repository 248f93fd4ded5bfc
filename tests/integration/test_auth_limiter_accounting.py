"""The sign-in limiter's accounting, counter by counter, on moto (matrix row 15).

Every password check reserves one failure on three counters at once: the account from this
address, the account from any address, and this address for any account. Two promises rest on
what happens to those reservations afterwards, and each is checked here by reading the counters:

- a refused guess hands back its reservations on the counters that allowed it, so a guess that
  was never evaluated never counts against anyone;
- a right password clears the account's counter for this address only and hands back its own
  reservation on the others: it must not wipe the address's failures across accounts, or an
  attacker could sign in to their own account now and then and keep guessing at everyone else's.
"""

from __future__ import annotations

import pytest

from stratus.auth.limiter import Limits, LoginLimiter
from stratus.ephemeral.table import ephemeral_model
from stratus.ephemeral.tallies import TallyStore, tallies_of
from stratus.errors import RateLimitedError
from stratus.limits import Counter, SlidingWindow
from tests.support.auth import apply_env, signin, signup, unique_email

pytestmark = pytest.mark.anyio

ATTACKER = "198.51.100.66"
ELSEWHERE = "203.0.113.66"


def failures(counter: Counter) -> int:
    """What the counter holds in DynamoDB now, read consistently."""
    connection = ephemeral_model()._get_connection()
    item = connection.get_item(counter.pk, range_key=counter.sk, consistent_read=True)
    return sum(tallies_of(item.get("Item", {})).values())


def limiter(per_account_ip: int, per_account: int, per_ip: int) -> LoginLimiter:
    limits = Limits(per_account_ip, per_account, per_ip, signups_per_ip=0, window=300)
    return LoginLimiter(SlidingWindow(TallyStore()), limits)


def counts(limits: LoginLimiter, email: str, ip: str) -> tuple[int, int, int]:
    """(account from ip, account from anywhere, ip for any account)."""
    account_ip, account, address = (c for c, _ in limits.signin_counters(email, ip))
    return failures(account_ip), failures(account), failures(address)


# Which counter is full when the guess comes, and how it got full.
REFUSERS = ["address", "account", "account and address"]


@pytest.mark.parametrize("full", REFUSERS)
async def test_a_refused_guess_hands_back_the_reservations_that_allowed_it(auth_env, full):
    limits = limiter(per_account_ip=3, per_account=3, per_ip=3)
    target = unique_email("target")
    if full == "address":
        # The attacker's address spent its guesses on other accounts.
        for _ in range(3):
            await limits.reserve(unique_email("other"), ATTACKER)
        before = (0, 0, 3)
    elif full == "account":
        # The target was guessed at from other addresses.
        for i in range(3):
            await limits.reserve(target, f"192.0.2.{i + 1}")
        before = (0, 3, 0)
    else:
        for _ in range(3):
            await limits.reserve(target, ATTACKER)
        before = (3, 3, 3)
    assert counts(limits, target, ATTACKER) == before
    for _ in range(5):
        with pytest.raises(RateLimitedError):
            await limits.reserve(target, ATTACKER)
    # Nothing moved: the full counter gave its attempt back itself, and the others, which
    # allowed the guess, gave theirs back too.
    assert counts(limits, target, ATTACKER) == before


async def test_refused_guesses_do_not_lock_the_account_from_elsewhere(auth_env):
    # The same promise seen from the victim's side: the attacker's address is full, and its
    # refused guesses at the victim must not use up the victim's own allowance.
    limits = limiter(per_account_ip=10, per_account=2, per_ip=1)
    victim = unique_email("victim")
    await limits.reserve(unique_email("other"), ATTACKER)
    for _ in range(5):
        with pytest.raises(RateLimitedError):
            await limits.reserve(victim, ATTACKER)
    # The victim's account still has both its guesses, from two other addresses.
    for address in (ELSEWHERE, "203.0.113.67"):
        await limits.reserve(victim, address)


async def test_a_right_password_clears_only_the_accounts_counter_for_that_address(auth_env):
    limits = limiter(per_account_ip=10, per_account=50, per_ip=20)
    own = unique_email("attacker")
    for _ in range(4):  # credential stuffing from the attacker's address
        await limits.reserve(unique_email("victim"), ATTACKER)
    for _ in range(2):  # someone guessing at the attacker's own account from elsewhere
        await limits.reserve(own, ELSEWHERE)
    await limits.reserve(own, ATTACKER)  # a typo of the attacker's own password
    assert counts(limits, own, ATTACKER) == (1, 3, 5)
    # WHEN the attacker signs in to their own account with the right password
    attempt = await limits.reserve(own, ATTACKER)
    await limits.succeeded(attempt)
    # THEN this account starts over from this address, and nothing else is forgotten
    assert counts(limits, own, ATTACKER) == (0, 3, 5)
    assert counts(limits, own, ELSEWHERE)[0] == 2


async def test_signing_in_to_your_own_account_does_not_buy_more_guesses(auth_client):
    # Through the API: the address's limit across accounts holds however often the attacker
    # signs in to an account of their own in between.
    apply_env({"STRATUS_LOGIN_MAX_FAILURES_PER_IP": "4", "FORWARDED_ALLOW_IPS": "testclient"})
    own = await signup(auth_client)
    via = {"X-Forwarded-For": ATTACKER}
    statuses = []
    for _ in range(3):
        for _ in range(2):
            guess = await signin(auth_client, unique_email("victim"), "guess", headers=via)
            statuses.append(guess.status_code)
        mine = await signin(auth_client, own.email, own.password, headers=via)
        statuses.append(mine.status_code)
    assert statuses == [401, 401, 200, 401, 401, 429, 429, 429, 429]
