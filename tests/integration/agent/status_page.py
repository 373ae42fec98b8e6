"""The status page at /ui/ in a real browser: headless Chromium (driven by
Selenium through chromedriver) loads it from an agent, a service is
registered through the API, and the page shows it by itself (it polls);
then the DNS lookup form answers for it. A screenshot is kept in the build
directory (CAIRN_ARTIFACTS). And the token: with [http] token set, the page
is refused without it and opens with it."""
import json
import os
import shutil
import sys
import tempfile
import unittest
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from harness import Agent  # noqa: E402

ARTIFACTS = os.environ.get("CAIRN_ARTIFACTS", tempfile.gettempdir())
WAIT_S = 20  # every wait on the page is bounded by this


def browser(profile_dir):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1024", f"--user-data-dir={profile_dir}",
                "--no-proxy-server", "--disable-background-networking"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def text_of(driver, css):
    """The text of the elements matching css, joined; "" when none."""
    try:
        return " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, css))
    except WebDriverException:
        return ""


class StatusPage(unittest.TestCase):
    def setUp(self):
        self.profile = tempfile.mkdtemp(prefix="cairn-test-chromium-")
        self.driver = browser(self.profile)
        self.driver.set_page_load_timeout(WAIT_S)

    def tearDown(self):
        self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)

    def wait_for(self, predicate, what):
        WebDriverWait(self.driver, WAIT_S, poll_frequency=0.1).until(
            lambda d: predicate(d), message=f"the page to show {what}")

    def test_a_registered_service_appears_with_its_check_and_answers_in_the_lookup(self):
        with Agent() as agent:
            self.driver.get(agent.http_url("/ui/"))
            self.assertEqual(self.driver.title, "cairn")
            self.wait_for(lambda d: "test-node" in text_of(d, "#members tbody"), "this agent as a member")
            self.assertIn("alive", text_of(self.driver, "#members tbody"))
            self.assertNotIn("web-1", text_of(self.driver, "#services"))

            body = {"id": "web-1", "name": "web", "address": "10.1.2.3", "port": 8080,
                    "tags": ["v2"], "checks": [{"ttl": "1m"}]}
            status, _ = agent.http("PUT", "/v1/services", json.dumps(body))
            self.assertEqual(status, 200)
            status, _ = agent.http("PUT", "/v1/checks/web-1:1/pass",
                                   json.dumps({"note": "processed 120 jobs"}))
            self.assertEqual(status, 200)

            row = '[data-service="web"] [data-instance="web-1"]'
            self.wait_for(lambda d: "processed 120 jobs" in text_of(d, row), "web-1 and its check's output")
            shown = text_of(self.driver, row)
            for part in ("10.1.2.3", "8080", "v2", "passing", "web-1:1"):
                self.assertIn(part, shown)

            self.driver.find_element(By.ID, "lookup-name").send_keys("web.service.cairn")
            self.driver.find_element(By.CSS_SELECTOR, "#lookup button").click()
            self.wait_for(lambda d: "10.1.2.3" in text_of(d, "#lookup-records"), "the A answer")
            self.assertIn("NOERROR", text_of(self.driver, "#lookup-status"))

            os.makedirs(ARTIFACTS, exist_ok=True)
            path = os.path.join(ARTIFACTS, "status-page.png")
            self.assertTrue(self.driver.save_screenshot(path))
            self.assertGreater(os.path.getsize(path), 1000)

            # Deregistered: it leaves the page, which polls without a reload.
            status, _ = agent.http("DELETE", "/v1/services/web-1")
            self.assertEqual(status, 200)
            self.wait_for(lambda d: "web-1" not in text_of(d, "#services"), "web-1 gone")

    def test_with_a_token_the_page_needs_it(self):
        with Agent(config_extra='[http]\ntoken = "s3cret token"') as agent:
            status, body = agent.http("GET", "/ui/")
            self.assertEqual(status, 401)
            self.assertIn(b'name="token"', body)
            status, _ = agent.http("GET", "/ui/", headers={"Authorization": "Bearer s3cret token"})
            self.assertEqual(status, 200)
            status, _ = agent.http("GET", "/ui/?token=wrong")
            self.assertEqual(status, 401)

            class NoRedirect(urllib.request.HTTPRedirectHandler):
                def redirect_request(self, *args):
                    return None
            opener = urllib.request.build_opener(NoRedirect)
            try:
                opener.open(agent.http_url("/ui/?token=s3cret%20token"), timeout=5)
                self.fail("expected a redirect")
            except urllib.error.HTTPError as e:
                self.assertEqual(e.code, 303)
                self.assertEqual(e.headers["Location"], "/ui/")
                cookie = e.headers["Set-Cookie"]
            self.assertIn("cairn_token=s3cret%20token", cookie)
            self.assertIn("HttpOnly", cookie)

            # In the browser: the form's ?token= sets the cookie, the page opens
            # and stays open on reload.
            self.driver.get(agent.http_url("/ui/?token=s3cret%20token"))
            self.wait_for(lambda d: "test-node" in text_of(d, "#members tbody"), "the members")
            self.driver.get(agent.http_url("/ui/"))
            self.wait_for(lambda d: "test-node" in text_of(d, "#members tbody"), "the members again")


if __name__ == "__main__":
    unittest.main()
