"""One look for what modelrace shows outside the terminal: the HTML report and the page
`modelrace serve` serves (tui/web/serve_page.html).

The state colours are the dashboard timeline's bars (tui/widgets/timeline.py), the
monospace stack is the served terminal's own font first, and the ink is the page around
that terminal.
"""

from __future__ import annotations

from providers.record import State

INK = "#0c181f"
ACCENT = "#0178d4"
WAITING = "#d7af00"
STREAMING = "#5fd75f"
STATE_COLOURS = {State.DONE: "#5f87ff", State.FAILED: "#ff5f5f", State.CANCELLED: "#8a8a8a"}
MONO = "'Roboto Mono', Monaco, 'Courier New', monospace"
SANS = "system-ui, sans-serif"

# CSS custom properties both pages start from.
LOOK_CSS = (
    f":root{{--mr-ink:{INK};--mr-accent:{ACCENT};--mr-waiting:{WAITING};"
    f"--mr-streaming:{STREAMING};--mr-done:{STATE_COLOURS[State.DONE]};"
    f"--mr-failed:{STATE_COLOURS[State.FAILED]};--mr-cancelled:{STATE_COLOURS[State.CANCELLED]};"
    f"--mr-mono:{MONO};--mr-sans:{SANS}}}"
)
