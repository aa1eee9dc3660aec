#!/usr/bin/python3
"""cockpit_browser: the cockpit in a real browser (issue 15), run by
test/docker/t-cockpit-browser.c with a daemon and a cockpit already up.

Debian's chromium, headless, driven by chromium-driver through
python3-selenium. It opens the overview, checks the live colour the page
shows, runs the switch command it was given (the CLI, as an operator
would), and waits for the page to show the other colour through the event
stream: the page must not reload (a marker set in the page before the
switch must still be there). Then the site page, and both pages at a
phone's width (375 CSS px), where the body must not scroll sideways.
Screenshots of each page go to OUTDIR.

usage: cockpit_browser.py URL SITE LIVE OTHER OUTDIR -- SWITCH_ARGV...
Prints "ok: ..." lines and exits 0, or prints why and exits 1.
"""
import subprocess
import sys
import time

from selenium.webdriver.common.by import By

from ckbrowser import chromium, fail, live_text, wait_for


def no_side_scroll(drv, page, width):
    """Nothing wider than the phone, and not zoomed out to fit something wider:
    a phone browser widens the layout viewport (innerWidth) to wide content."""
    w = drv.execute_script(
        "return [document.documentElement.scrollWidth, document.body.scrollWidth,"
        " window.innerWidth]")
    if max(w[0], w[1]) > width or w[2] != width:
        fail("%s at %dpx does not fit: scrollWidth %s, innerWidth %s"
             % (page, width, w[:2], w[2]))
    return w


def main():
    if "--" not in sys.argv:
        fail(__doc__)
    sep = sys.argv.index("--")
    url, site, live, other, outdir = sys.argv[1:sep]
    switch = sys.argv[sep + 1:]

    drv = chromium()
    try:
        drv.set_page_load_timeout(30)
        drv.get(url + "/")
        wait_for("the live-update note says on",
                 lambda: drv.find_element(By.ID, "ck-live").text == "Live updates: on", 15)
        shown = live_text(drv, site)
        if shown != live:
            fail("overview shows live %r for %s, the daemon says %r" % (shown, site, live))
        print("ok: overview shows %s live for %s" % (live, site), flush=True)
        drv.save_screenshot(outdir + "/overview-before.png")
        # A marker a reload would lose.
        drv.execute_script("window.__bgNoReload = 4242;")
        t0 = time.monotonic()
        r = subprocess.run(switch, capture_output=True, text=True, timeout=180)
        t1 = time.monotonic()
        if r.returncode != 0:
            fail("the switch command failed (%d): %s %s" % (r.returncode, r.stdout, r.stderr))
        wait_for("the overview shows %s live" % other,
                 lambda: live_text(drv, site) == other, 30)
        t2 = time.monotonic()
        if drv.execute_script("return window.__bgNoReload") != 4242:
            fail("the page reloaded: the update did not come through the event stream")
        print("ok: the page showed %s live without a reload, %.0f ms after the switch "
              "command returned (the command took %.0f ms)"
              % (other, (t2 - t1) * 1000, (t1 - t0) * 1000), flush=True)
        drv.save_screenshot(outdir + "/overview-after.png")

        drv.get(url + "/sites/" + site)
        wait_for("the site page shows %s live" % other, lambda: live_text(drv, site) == other, 15)
        wait_for("the site page's live note", lambda: drv.find_element(By.ID, "ck-live").text
                 == "Live updates: on", 15)
        hist = drv.find_element(By.ID, "ck-history").text
        if "rollback" not in hist and "switch" not in hist:
            fail("the site page's history names no switch:\n" + hist)
        drv.save_screenshot(outdir + "/site.png")
        print("ok: site page", flush=True)

        # A phone: 375 CSS px wide, as the device toolbar's iPhone SE/8.
        drv.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": 375, "height": 740, "deviceScaleFactor": 2, "mobile": True})
        for name, path in (("overview", "/"), ("site", "/sites/" + site)):
            drv.get(url + path)
            wait_for("%s at 375px shows %s" % (name, other),
                     lambda: live_text(drv, site) == other, 15)
            w = no_side_scroll(drv, name, 375)
            drv.save_screenshot("%s/phone-%s.png" % (outdir, name))
            print("ok: %s at 375px: no sideways scroll (scrollWidth %d, innerWidth %d)"
                  % (name, max(w[0], w[1]), w[2]), flush=True)
    finally:
        drv.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
