"""axe-core in headless Chromium (issue 16): the serious and critical violations of the page open in a
driver, for tests/e2e/test_screens.py (every page as its opener), test_accessibility.py (the pages of
someone not signed in, keyboard focus) and test_resident_journey.py (the residents' app)."""

from __future__ import annotations

BLOCKING = ("serious", "critical")
SHOWN_TARGETS = 3  # the first elements of a violation named in the failure; axe's own report has them all


def outdated(rule: str, node: dict) -> bool:
    """A finding of the bundled axe-core 3.1 that axe-core 4 no longer makes, on markup Quasar writes:

    - color-contrast on a Material icon: its ligature text ("warning_amber") is drawn as a glyph, not read
      as text (axe 3.5+ leaves icon ligatures out);
    - aria-readonly on a q-select's role=combobox: ARIA 1.2 allows it there (axe 4 does);
    - aria-controls of a closed q-select (aria-expanded=false) naming its list box, which exists only while
      the menu is open: ARIA 1.2's combobox pattern asks for it, and axe 4 does not check it while collapsed.
    Anything else on these elements is still reported.
    """
    html = node["html"]
    if rule == "color-contrast":
        return html.startswith("<i ") and "material-icons" in html
    if 'role="combobox"' not in html:
        return False
    data = [str(d) for check in node["any"] + node["all"] + node["none"] for d in (check.get("data") or [])]
    if rule == "aria-allowed-attr":
        return bool(data) and all(d.startswith("aria-readonly=") for d in data)
    if rule == "aria-valid-attr-value":
        return 'aria-expanded="false"' in html and bool(data) and all(d.startswith("aria-controls=") for d in data)
    return False


def violations(driver, name: str, path: str) -> list[str]:
    """Run axe-core on the page open in ``driver``: its serious and critical violations, each named with
    ``name`` and ``path``, the first elements it found and their markup."""
    from axe_selenium_python import Axe

    problems = []
    axe = Axe(driver)
    axe.inject()
    for violation in axe.run()["violations"]:
        nodes = [node for node in violation["nodes"] if not outdated(violation["id"], node)]
        if violation["impact"] not in BLOCKING or not nodes:
            continue
        targets = [", ".join(node["target"]) for node in nodes]
        more = f" (+{len(targets) - SHOWN_TARGETS})" if len(targets) > SHOWN_TARGETS else ""
        problems.append(f"{violation['id']} ({violation['impact']}) on {name} {path}: "
                        f"{'; '.join(targets[:SHOWN_TARGETS])}{more} — {nodes[0]['html'][:120]}")
    return problems
