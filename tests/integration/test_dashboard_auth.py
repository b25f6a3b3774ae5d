"""Issue #8: users, roles, sessions and CSRF on the real daemon.

Every changing endpoint under /api/ (found in the sources of web/, so that
endpoints other modules add are covered as they land) refuses an anonymous
caller and a viewer; sessions are HttpOnly + SameSite=Strict cookies; a change
needs the session's CSRF token; logins are rate-limited; `coalmon user`
manages accounts, audited; with http.anonymous_read false, reads need a login.
"""
import glob
import json
import os
import re
import sqlite3

from harness import BIN, SOURCE, Cleanup, free_port, http, main, run, wait_until


def demo_passwords(proc):
    proc.wait_output("demo user viewer")
    out = {}
    for m in re.finditer(r"demo user (\w+)\s+password (\S+)", proc.output()):
        out[m.group(1)] = m.group(2)
    assert set(out) == {"admin", "engineer", "dispatcher", "viewer"}, out
    return out


class Client:
    """A browser-like client: keeps the session cookie and the CSRF token."""

    def __init__(self, base):
        self.base, self.cookie, self.csrf = base, None, None

    def login(self, name, password):
        status, body, headers = http("POST", self.base + "/api/v1/session",
                                     {"name": name, "password": password})
        if status == 200:
            set_cookie = headers.get("Set-Cookie")
            self.cookie = set_cookie.split(";")[0]
            self.csrf = body["csrf"]
        return status, body, headers

    def call(self, method, path, body=None, csrf=True, headers=None):
        h = dict(headers or {})
        if self.cookie:
            h["Cookie"] = self.cookie
        if csrf and self.csrf:
            h["X-CSRF-Token"] = self.csrf
        return http(method, self.base + path, body, h)


def changing_routes():
    """(method, path) of every POST/PUT/DELETE route registered under /api/
    in web/*.c with web_route (web_route_public ones are machine endpoints)."""
    routes = []
    pat = re.compile(r'web_route\s*\(\s*\w+\s*,\s*([A-Z_| ]+?)\s*,\s*"(/api/[^"]+)"')
    for src in glob.glob(os.path.join(SOURCE, "web", "*.c")):
        with open(src, encoding="utf-8") as f:
            text = f.read()
        for methods, path in pat.findall(text):
            for m in ("POST", "PUT", "DELETE"):
                if "WEB_" + m in methods:
                    routes.append((m, path.replace("*", "x")))
    return sorted(set(routes))


def start_demo(c):
    data = c.dir()
    port = free_port()
    d = c.proc([f"{BIN}/coalmond", "--demo", "--port", str(port), "--data", data], "coalmond-auth")
    d.wait_output(f"serving http://127.0.0.1:{port}/")
    return d, data, f"http://127.0.0.1:{port}"


def test_every_change_refuses_anonymous_and_viewer():
    with Cleanup() as c:
        d, data, base = start_demo(c)
        pw = demo_passwords(d)
        viewer = Client(base)
        assert viewer.login("viewer", pw["viewer"])[0] == 200
        routes = changing_routes()
        assert ("POST", "/api/v1/users") in routes and ("PUT", "/api/v1/users/x") in routes, routes
        checked = 0
        for method, path in routes:
            if (method, path) == ("POST", "/api/v1/session"):
                continue  # the login itself
            status, body, _ = http(method, base + path, {})
            assert status == 401, (method, path, status, body)
            if path in ("/api/v1/session", "/api/v1/session/password"):
                continue  # a viewer may log out and change their own password
            status, body, _ = viewer.call(method, path, {})
            assert status == 403, (method, path, status, body)
            checked += 1
        print(f"  {checked} changing endpoints refuse anonymous and viewer callers")
        # Reads stay open for the wall screen (http.anonymous_read defaults to true).
        status, live, _ = http("GET", base + "/api/v1/live")
        assert status == 200 and "devices" in live
        status, page, _ = http("GET", base + "/")
        assert status == 200 and "煤矿产量监测" in page
        # ...but the user list is for admins only.
        assert http("GET", base + "/api/v1/users")[0] == 401
        assert viewer.call("GET", "/api/v1/users")[0] == 403


def test_sessions_csrf_and_users_api():
    with Cleanup() as c:
        d, data, base = start_demo(c)
        pw = demo_passwords(d)
        admin = Client(base)
        status, body, headers = admin.login("admin", pw["admin"])
        assert status == 200 and body["role"] == "admin", body
        cookie = headers.get("Set-Cookie")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie, cookie
        status, me, _ = admin.call("GET", "/api/v1/session")
        assert me["user"] == "admin" and me["csrf"] == admin.csrf

        # A change without the CSRF token, or with another one, is refused.
        new_user = {"name": "zhang.san", "role": "dispatcher", "password": "Diaodu-2026"}
        status, body, _ = admin.call("POST", "/api/v1/users", new_user, csrf=False)
        assert status == 403 and body["field"] == "X-CSRF-Token", body
        status, body, _ = admin.call("POST", "/api/v1/users", new_user,
                                     headers={"X-CSRF-Token": "0" * 64}, csrf=False)
        assert status == 403, body
        # A request from another site's page is refused even with the token.
        status, body, _ = admin.call("POST", "/api/v1/users", new_user,
                                     headers={"Origin": "http://evil.example"})
        assert status == 403 and body["field"] == "Origin", body
        status, body, _ = admin.call("POST", "/api/v1/users", new_user)
        assert status == 201, body
        assert admin.call("POST", "/api/v1/users", new_user)[0] == 409

        # Bad input names the field, and nothing is stored.
        for bad, field in (({"name": "a b", "role": "viewer", "password": "longenough"}, "name"),
                           ({"name": "li", "role": "boss", "password": "longenough"}, "role"),
                           ({"name": "li", "role": "viewer", "password": "short"}, "password")):
            status, body, _ = admin.call("POST", "/api/v1/users", bad)
            assert status == 400 and body["field"] == field, (bad, body)
        users = {u["name"]: u for u in admin.call("GET", "/api/v1/users")[1]["users"]}
        assert "li" not in users and users["zhang.san"]["role"] == "dispatcher"

        # The new dispatcher logs in; a role change applies at the next request.
        zs = Client(base)
        assert zs.login("zhang.san", "Diaodu-2026")[0] == 200
        assert admin.call("PUT", "/api/v1/users/zhang.san", {"role": "viewer"})[0] == 200
        assert zs.call("GET", "/api/v1/session")[1]["role"] == "viewer"
        assert zs.call("POST", "/api/v1/users", new_user)[0] == 403
        # An admin cannot lock themselves out.
        status, body, _ = admin.call("PUT", "/api/v1/users/admin", {"role": "viewer"})
        assert status == 400 and body["field"] == "role", body
        # Disabling ends the session at once.
        assert admin.call("PUT", "/api/v1/users/zhang.san", {"disabled": True})[0] == 200
        assert zs.call("GET", "/api/v1/session")[1]["user"] is None
        assert zs.login("zhang.san", "Diaodu-2026")[0] == 401

        # Own password: the old one is required; afterwards the old session is gone.
        eng = Client(base)
        assert eng.login("engineer", pw["engineer"])[0] == 200
        status, body, _ = eng.call("POST", "/api/v1/session/password",
                                   {"old_password": "wrong-one", "new_password": "Gongcheng-88"})
        assert status == 400 and body["field"] == "old_password", body
        status, body, _ = eng.call("POST", "/api/v1/session/password",
                                   {"old_password": pw["engineer"], "new_password": "Gongcheng-88"})
        assert status == 200, body
        assert eng.call("GET", "/api/v1/session")[1]["user"] is None
        assert eng.login("engineer", "Gongcheng-88")[0] == 200

        # Logout ends the session.
        assert admin.call("DELETE", "/api/v1/session")[0] == 200
        assert admin.call("GET", "/api/v1/users")[0] == 401

        assert d.stop() == 0, d.output()
        db = sqlite3.connect(os.path.join(data, "coalmon.db"))
        actions = [r[0] for r in db.execute(
            "SELECT action FROM audit_log WHERE target = 'zhang.san' ORDER BY id")]
        db.close()
        assert actions == ["user.add", "user.role", "user.disable"], actions


def test_login_rate_limit():
    with Cleanup() as c:
        d, data, base = start_demo(c)
        pw = demo_passwords(d)
        statuses = [http("POST", base + "/api/v1/session",
                         {"name": "dispatcher", "password": f"guess-{i}"})[0] for i in range(5)]
        assert statuses == [401] * 5, statuses
        # Locked now: even the right password is refused until the lockout ends.
        status, body, headers = http("POST", base + "/api/v1/session",
                                     {"name": "dispatcher", "password": pw["dispatcher"]})
        assert status == 429 and int(headers.get("Retry-After")) > 0, (status, body)
        assert "dispatcher" in d.output() and "failed login" in d.output()


def test_cli_user_and_closed_reads():
    with Cleanup() as c:
        data = c.dir()
        db = os.path.join(data, "coalmon.db")
        cli = [f"{BIN}/coalmon", "--db", db]
        r = run(cli + ["user", "add", "wang", "--role", "engineer"], input="Jishu-2026\n")
        assert r.returncode == 0, r.stderr
        r = run(cli + ["user", "add", "wang", "--role", "engineer"], input="Jishu-2026\n")
        assert r.returncode == 1 and "exists" in r.stderr, r.stderr
        r = run(cli + ["user", "add", "li", "--role", "boss"], input="Jishu-2026\n")
        assert r.returncode == 2 and "--role" in r.stderr, r.stderr
        r = run(cli + ["user", "add", "li", "--role", "viewer"], input="short\n")
        assert r.returncode == 1 and "password" in r.stderr, r.stderr
        r = run(cli + ["user", "frobnicate"])
        assert r.returncode == 2
        assert run(cli + ["user", "role", "wang", "admin"]).returncode == 0
        r = run(cli + ["--json", "user", "list"])
        assert r.returncode == 0, r.stderr
        users = json.loads(r.stdout)
        assert [(u["name"], u["role"], u["disabled"]) for u in users] == [("wang", "admin", False)]
        assert "pw" not in r.stdout  # no hash leaves the database

        # A server with anonymous reads off: the API needs a login, the page does not.
        port = free_port()
        conf = os.path.join(data, "coalmond.json")
        with open(conf, "w") as f:
            json.dump({"role": "mine", "data_dir": data,
                       "http": {"host": "127.0.0.1", "port": port, "anonymous_read": False},
                       "collector": {"meter_maps": os.path.join(SOURCE, "conf", "meters"),
                                     "devices": []}}, f)
        d = c.proc([f"{BIN}/coalmond", "-c", conf], "coalmond-closed")
        d.wait_output(f"serving http://127.0.0.1:{port}/")
        base = f"http://127.0.0.1:{port}"
        assert http("GET", base + "/api/v1/live")[0] == 401
        assert http("GET", base + "/")[0] == 200
        assert http("GET", base + "/api/v1/session")[0] == 200
        wang = Client(base)
        assert wang.login("wang", "Jishu-2026")[0] == 200
        assert wang.call("GET", "/api/v1/live")[0] == 200
        # Disabled from the command line while logged in: out at the next request.
        assert run(cli + ["user", "disable", "wang"]).returncode == 0
        wait_until(lambda: wang.call("GET", "/api/v1/live")[0] == 401, timeout=10,
                   what="the disabled user's session to end")
        assert d.stop() == 0, d.output()


if __name__ == "__main__":
    main([test_every_change_refuses_anonymous_and_viewer, test_sessions_csrf_and_users_api,
          test_login_rate_limit, test_cli_user_and_closed_reads])
