"""A test that needs a Debian program fails with what to install, never skips silently."""

from __future__ import annotations

import pytest

from tests.support.system_deps import MissingSystemPackageError, require


def test_missing_program_names_the_package_to_install() -> None:
    with pytest.raises(MissingSystemPackageError) as missing:
        require("stratus-no-such-package")
    assert "sudo apt-get install stratus-no-such-package" in str(missing.value)
    assert "make system-deps" in str(missing.value)
