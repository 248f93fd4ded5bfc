"""The Lambda runtime the artifacts are built for, and the wheel tags it can load.

Python 3.12 on arm64 (Graviton): the first Python runtime with SnapStart, and arm64 is the
cheaper architecture where every dependency ships a wheel (they all do). Both the python3.12
and python3.13 runtimes run on Amazon Linux 2023, whose glibc is 2.34, so a wheel tagged
manylinux_2_17 up to manylinux_2_34 loads there; musllinux and plain linux tags never do.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from packaging.tags import Tag, compatible_tags, cpython_tags


@dataclass(frozen=True)
class Target:
    python: tuple[int, int] = (3, 12)
    machine: str = "aarch64"
    glibc: tuple[int, int] = (2, 34)
    oldest_glibc: tuple[int, int] = (2, 17)

    @property
    def runtime(self) -> str:
        """Lambda's runtime identifier."""
        return f"python{self.python[0]}.{self.python[1]}"

    @property
    def architecture(self) -> str:
        """Lambda's name for the architecture."""
        return {"aarch64": "arm64", "x86_64": "x86_64"}[self.machine]

    @property
    def python_tag(self) -> str:
        return f"cp{self.python[0]}{self.python[1]}"

    @property
    def elf_machine(self) -> int:
        """e_machine in an ELF header: what a native extension was compiled for."""
        return {"aarch64": 183, "x86_64": 62}[self.machine]

    @cached_property
    def platforms(self) -> list[str]:
        """Most specific first, as pip and packaging order them."""
        major = self.glibc[0]
        perennial = [
            f"manylinux_{major}_{minor}_{self.machine}"
            for minor in range(self.glibc[1], self.oldest_glibc[1] - 1, -1)
        ]
        # manylinux2014 is the legacy name of manylinux_2_17.
        return [*perennial, f"manylinux2014_{self.machine}"]

    @property
    def markers(self) -> dict[str, str]:
        """The environment markers (PEP 508) of the runtime, to read requirements as it would."""
        version = f"{self.python[0]}.{self.python[1]}"
        return {
            "python_version": version,
            "python_full_version": f"{version}.0",
            "implementation_name": "cpython",
            "platform_python_implementation": "CPython",
            "platform_machine": self.machine,
            "platform_system": "Linux",
            "sys_platform": "linux",
            "os_name": "posix",
            "extra": "",
        }

    @cached_property
    def supported_tags(self) -> frozenset[Tag]:
        return frozenset(
            [
                *cpython_tags(self.python, abis=[self.python_tag], platforms=self.platforms),
                *compatible_tags(self.python, self.python_tag, self.platforms),
            ]
        )


LAMBDA = Target()
