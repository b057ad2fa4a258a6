"""Answer the page's confirmation <dialog> the way a keyboard user does."""

from __future__ import annotations

OPEN = "#ops-confirm[open]"


def confirm_message(page) -> str:
    """Wait for the dialog and return its question."""
    page.wait_for_selector(OPEN)
    return page.inner_text("#ops-confirm-message")


def confirm(page) -> str:
    """Tab from "Go back" (where focus starts) to the action and press Enter; return the question."""
    message = confirm_message(page)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.classList.contains('ops-dialog-confirm')")
    page.keyboard.press("Enter")
    page.wait_for_selector(OPEN, state="detached")
    return message


def dismiss(page) -> str:
    """Press Escape; return the question the dialog asked."""
    message = confirm_message(page)
    page.keyboard.press("Escape")
    page.wait_for_selector(OPEN, state="detached")
    return message
