"""Inline buttons under the bot's messages, and the compact data each button sends back.

Callback data is at most 64 bytes: `top:<window_s>`, `st:<window_s>:<asset or ->`,
`rm:<rule_id>`, `rmc:<cascade_rule_id>`, and under a bare /unsubscribe `rma:0` (remove all)
and `rmk:0` (keep them).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.texts.durations import format_window

BUTTONS_PER_ROW = 4
MAX_REMOVE_BUTTONS = 96  # Telegram allows 100 buttons under a message

_DATA = re.compile(r"^(top|st|rm|rmc|rma|rmk):(\d{1,9})(?::([A-Z0-9]{1,20}|-))?$")


@dataclass(frozen=True, slots=True)
class Press:
    """What a pressed button asks for."""

    # "top", "st" (stats), "rm" (remove a rule), "rmc" (remove a cascade rule), "rma" (remove
    # every rule, confirmed), "rmk" (keep them)
    action: str
    number: int  # a window in seconds, or a rule id
    asset: str | None = None  # /stats of one asset

    @property
    def changes_settings(self) -> bool:
        """Return True for buttons that change the chat's settings (admins only in groups)."""
        return self.action in ("rm", "rmc", "rma", "rmk")


def parse_press(data: str | None) -> Press | None:
    """Return the press a button's data encodes, or None for data this bot never made."""
    match = _DATA.match(data or "")
    if match is None:
        return None
    action, number, asset = match.groups()
    if (action == "st") != (asset is not None):
        return None  # only /stats buttons name an asset, and they always do
    return Press(action, int(number), None if asset in (None, "-") else asset)


def window_buttons(
    windows_s: Sequence[int], current_s: int, *, asset: str | None = None, stats: bool = False
) -> InlineKeyboardMarkup:
    """Return one row of window buttons; the current window is marked."""
    row = []
    for window in windows_s:
        label = format_window(window)
        if window == current_s:
            label = f"• {label} •"
        data = f"st:{window}:{asset or '-'}" if stats else f"top:{window}"
        row.append(InlineKeyboardButton(label, callback_data=data))
    return InlineKeyboardMarkup([row])


def remove_buttons(
    rule_ids: Sequence[int], cascade_ids: Sequence[int] = ()
) -> InlineKeyboardMarkup | None:
    """Return a "✖ #id" button per rule (and "✖ #Cid" per cascade rule), or None if none."""
    buttons = [InlineKeyboardButton(f"✖ #{i}", callback_data=f"rm:{i}") for i in rule_ids]
    buttons += [InlineKeyboardButton(f"✖ #C{i}", callback_data=f"rmc:{i}") for i in cascade_ids]
    buttons = buttons[:MAX_REMOVE_BUTTONS]
    if not buttons:
        return None
    rows = [buttons[i : i + BUTTONS_PER_ROW] for i in range(0, len(buttons), BUTTONS_PER_ROW)]
    return InlineKeyboardMarkup(rows)


def confirm_buttons(remove_label: str, keep_label: str) -> InlineKeyboardMarkup:
    """Return the two buttons under a bare /unsubscribe: remove everything, or keep it."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(remove_label, callback_data="rma:0"),
                InlineKeyboardButton(keep_label, callback_data="rmk:0"),
            ]
        ]
    )
