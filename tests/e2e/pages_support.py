"""What every browser test of the web pages (chief's map, admin, public) shares: the two
viewports, a watch on the console and the network, and axe-core.

Issue 15 asks that the page tests fail on any console error and any failed request, run in
a desktop and a phone viewport, and find 0 critical and 0 serious axe-core violations in
every page state. ``open_tab`` gives a tab that records all of that; ``Tab.close`` asserts it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"

VIEWPORTS: dict[str, dict[str, int]] = {
    "desktop": {"width": 1366, "height": 768},
    "phone": {"width": 390, "height": 844},
}


@dataclass
class Tab:
    """A browser tab (``page``) and what went wrong in it."""

    page: Any
    context: Any
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)
    # Console lines a test provokes on purpose (a 401 it asked for); matched as substrings.
    expected_console: list[str] = field(default_factory=list)

    def expect_console(self, fragment: str) -> None:
        self.expected_console.append(fragment)

    def problems(self) -> list[str]:
        console = [
            line
            for line in self.console_errors
            if not any(fragment in line for fragment in self.expected_console)
        ]
        return (
            [f"console error: {line}" for line in console]
            + [f"failed request: {line}" for line in self.failed_requests]
            + [f"request off the machine: {url}" for url in self.foreign]
            + [f"script error: {line}" for line in self.script_errors]
        )

    def close(self) -> None:
        self.context.close()
        assert not self.problems(), self.problems()


def open_tab(browser: Any, base_url: str, viewport: str = "desktop") -> Tab:
    """A fresh context in the given viewport, Spanish (Peru) locale, Lima time zone. Every
    request to another host is refused and recorded; console errors, failed requests (network
    failures and HTTP answers >= 400) and uncaught script errors are recorded too."""
    own = urlsplit(base_url).netloc
    context = browser.new_context(
        viewport=VIEWPORTS[viewport],
        bypass_csp=True,  # Playwright's waits evaluate scripts, which the pages' CSP forbids
        locale="es-PE",
        timezone_id="America/Lima",
        is_mobile=viewport == "phone",
        has_touch=viewport == "phone",
    )
    page = context.new_page()
    tab = Tab(page, context)

    def guard(route: Any) -> None:
        url = route.request.url
        if urlsplit(url).netloc != own and not url.startswith(("data:", "blob:")):
            tab.foreign.append(url)
            route.abort()
        else:
            route.continue_()

    def on_response(response: Any) -> None:
        if response.status >= 400:
            request = response.request
            tab.failed_requests.append(f"{response.status} {request.method} {response.url}")

    def on_failed(request: Any) -> None:
        # ERR_ABORTED is the page cancelling its own request, not a failure: MapLibre drops
        # the tiles it no longer needs when a layer is switched off or the filters change
        # (a refused or failed request is ERR_FAILED, or an HTTP status, above).
        if request.failure == "net::ERR_ABORTED":
            return
        if urlsplit(request.url).netloc == own:  # foreign ones are reported as foreign
            tab.failed_requests.append(f"{request.failure} {request.method} {request.url}")

    context.route("**/*", guard)

    def on_console(message: Any) -> None:
        if message.type == "error":
            tab.console_errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: tab.script_errors.append(str(exc)))
    page.on("response", on_response)
    page.on("requestfailed", on_failed)
    return tab


def allow_failed(tab: Tab, fragment: str) -> None:
    """Forget failed requests (and their console lines) that a test provoked on purpose."""
    tab.failed_requests[:] = [line for line in tab.failed_requests if fragment not in line]
    tab.expect_console("Failed to load resource")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's critical and serious violations on the page as it is now."""
    if not page.evaluate("() => !!window.axe"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate(
        """async () => {
            const r = await axe.run(document);
            return {passes: r.passes.length, violations: r.violations
                .filter((v) => v.impact === 'critical' || v.impact === 'serious')
                .map((v) => ({id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target)}))};
        }"""
    )
    assert found["passes"] > 10, found  # axe really looked at the page
    return list(found["violations"])


def assert_accessible(page: Any, state: str) -> None:
    violations = axe_violations(page)
    assert not violations, f"{state}: {violations}"
