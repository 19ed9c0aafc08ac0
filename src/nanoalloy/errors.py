"""Exception hierarchy of nanoalloy.

One base class, :class:`NanoalloyError`; every domain error also subclasses the
matching builtin so that callers who only know Python's exceptions still catch it.

Contents
--------
NanoalloyError, FormulaError, LigandError, SpectrumFormatError, PresetError,
FitError, KineticsError, InputError, UsageError, BatchError
"""

from __future__ import annotations

__all__ = [
    "BatchError",
    "FitError",
    "FormulaError",
    "InputError",
    "KineticsError",
    "LigandError",
    "NanoalloyError",
    "PresetError",
    "SpectrumFormatError",
    "UsageError",
]


class NanoalloyError(Exception):
    """Base class of every error nanoalloy raises on purpose."""


class FormulaError(NanoalloyError, ValueError):
    """Malformed or inconsistent cluster / ion notation.

    Parameters
    ----------
    message
        What is wrong and what was expected.
    text
        The whole input string, if known.
    position
        0-based index of the offending token in ``text``.
    token
        The offending token itself.
    """

    def __init__(
        self,
        message: str,
        text: str | None = None,
        position: int | None = None,
        token: str | None = None,
    ) -> None:
        self.message = message
        self.text = text
        self.position = position
        self.token = token
        super().__init__(self._render())

    def _render(self) -> str:
        if self.text is None or self.position is None:
            return self.message
        shown = self.text.encode("unicode_escape").decode("ascii")
        # position in the escaped string: escape the prefix too
        pre = self.text[: self.position].encode("unicode_escape").decode("ascii")
        return f"{self.message} (at position {self.position})\n  {shown}\n  {' ' * len(pre)}^"

    @property
    def one_line(self) -> str:
        """The message with its position, on a single line (for the CLI)."""
        if self.position is None:
            return self.message
        tok = f" {self.token!r}" if self.token else ""
        text = self.text or ""
        if len(text) > 120:  # a pasted megabyte stays one readable line
            text = f"{text[:60]}...({len(text)} characters)...{text[-20:]}"
        return f"{self.message} (at position {self.position}{tok} in {text!r})"


class LigandError(FormulaError):
    """Unknown, unbound or badly defined ligand."""


class SpectrumFormatError(NanoalloyError, ValueError):
    """A spectrum file that cannot be read or holds invalid data."""


class InputError(NanoalloyError, ValueError):
    """Invalid user input other than notation or spectra (options, tables, files)."""


class UsageError(InputError):
    """A command line whose options conflict or lie out of range: exit code 2, as argparse's."""


class PresetError(NanoalloyError, ValueError):
    """A preset TOML file that is missing or malformed."""


class FitError(NanoalloyError, RuntimeError):
    """A fit that cannot be carried out."""


class KineticsError(NanoalloyError, ValueError):
    """Invalid kinetic model, parameters or dosing schedule."""


class BatchError(NanoalloyError, RuntimeError):
    """A batch that cannot go on: the Dask scheduler is lost or no worker joins it.

    What was done before is recorded; rerunning the same command resumes.
    """
