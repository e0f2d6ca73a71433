"""The terminal the commands write to: one console for output, one for errors."""

from __future__ import annotations

from rich.console import Console

console = Console()
err_console = Console(stderr=True)
