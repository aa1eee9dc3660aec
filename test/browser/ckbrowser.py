"""ckbrowser: what the cockpit's browser tests share (cockpit_browser.py,
cockpit_roles.py): Debian's chromium headless through chromium-driver,
a failure that ends the script with its reason, polling for a condition
within a time limit stretched by BG_TEST_TIME_SCALE, and the live colour
a page's site row shows.
"""
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

SCALE = max(1, int(os.environ.get("BG_TEST_TIME_SCALE") or "1"))


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def wait_for(what, fn, timeout):
    end = time.monotonic() + timeout * SCALE
    last = None
    while time.monotonic() < end:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # an element not there yet
            last = e
        time.sleep(0.05)
    fail("%s: not within %ss (last: %r)" % (what, timeout * SCALE, last))


def live_text(drv, site):
    for r in drv.find_elements(By.CSS_SELECTOR, "tr[data-site]"):
        if r.get_attribute("data-site") == site:
            return r.find_element(By.CSS_SELECTOR, 'td[data-h="Live"]').text.strip()
    return None


def chromium():
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1280,900", "--no-first-run", "--disable-extensions"):
        opts.add_argument(a)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
