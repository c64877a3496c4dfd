#!/usr/bin/env python3
"""A real Subsonic client against a running daemon: py-opensonic (import name libopensonic).

    python3 tests/clients/ping.py --port N --user admin --password admin-pass --api-key KEY

How py-opensonic (10.4.1) sends requests, by default: an HTTP POST with every parameter in an
application/x-www-form-urlencoded body (the formPost extension), to
http://HOST:PORT/rest/<method>.view (the `.view` suffix), with f=json, v=1.16.1 and
c=py-opensonic; it authenticates with u, t=md5(password+salt) and s (a fresh 16-hex-digit
salt each call), or with apiKey alone when given api_key (it supports the
apiKeyAuthentication extension itself). It raises an errors.SonicError subclass when the
answer has status "failed".

Exits 2 when libopensonic cannot be imported, 1 on any other failure, 0 when all passed.
"""

import argparse
import sys
import traceback

try:
    import libopensonic
except ImportError as e:
    print(f"cannot import libopensonic (pip install py-opensonic): {e}", file=sys.stderr)
    sys.exit(2)


def check(what, fn):
    try:
        result = fn()
    except Exception:
        print(f"FAIL {what}:\n{traceback.format_exc()}", file=sys.stderr)
        return False
    print(f"ok   {what}: {result!r}")
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="http://127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--api-key", required=True)
    args = ap.parse_args()
    print(f"libopensonic {libopensonic.__version__}")

    results = []
    # (a) Token auth, the library's default: u, t=md5(password+salt), s; POST form, .view.
    conn = libopensonic.Connection(args.host, args.user, args.password, port=args.port, app_name="redoubt-test")
    try:
        results.append(check("ping (token)", lambda: conn.ping() is True or _fail("ping returned False")))
        results.append(check("getLicense (token)", lambda: _license(conn.get_license())))
        results.append(check("getUser (token)", lambda: _user(conn.get_user(args.user), args.user)))
        results.append(check("getOpenSubsonicExtensions", lambda: _extensions(conn.get_open_subsonic_extensions())))
    finally:
        conn.cleanup()

    # The same, by GET without the .view suffix.
    conn = libopensonic.Connection(
        args.host, args.user, args.password, port=args.port, app_name="redoubt-test", use_get=True, use_views=False
    )
    try:
        results.append(check("ping (token, GET, no .view)", lambda: conn.ping() is True or _fail("ping returned False")))
    finally:
        conn.cleanup()

    # (b) API key: the library sends apiKey and no u/p/t/s.
    conn = libopensonic.Connection(args.host, api_key=args.api_key, port=args.port, app_name="redoubt-test")
    try:
        results.append(check("ping (apiKey)", lambda: conn.ping() is True or _fail("ping returned False")))
        results.append(check("tokenInfo (apiKey)", lambda: _token_info(conn.token_info(), args.user)))
    finally:
        conn.cleanup()

    # A wrong password must be refused, and the library must see it as a failure.
    conn = libopensonic.Connection(args.host, args.user, args.password + "-wrong", port=args.port)
    try:
        results.append(check("wrong password refused", lambda: _refused(conn.ping)))
    finally:
        conn.cleanup()

    if not all(results):
        print(f"{results.count(False)} of {len(results)} checks failed", file=sys.stderr)
        return 1
    print(f"all {len(results)} checks passed")
    return 0


def _fail(msg):
    raise AssertionError(msg)


def _license(dres):
    # get_license returns the whole subsonic-response dict (status already checked by the library).
    if dres.get("status") != "ok" or dres.get("license", {}).get("valid") is not True:
        _fail(f"unexpected getLicense answer: {dres}")
    return dres["license"]


def _user(user, name):
    if user.username != name or user.admin_role is not True:
        _fail(f"unexpected user: {user}")
    return user


def _extensions(exts):
    names = {e.name for e in exts}
    if "apiKeyAuthentication" not in names:
        _fail(f"apiKeyAuthentication not announced: {exts}")
    return sorted(names)


def _token_info(info, name):
    if info.username != name:
        _fail(f"tokenInfo names {info.username!r}, not {name!r}")
    return info


def _refused(fn):
    try:
        fn()
    except libopensonic.errors.CredentialError as e:
        return f"CredentialError: {e}"
    _fail("a wrong password was accepted")


if __name__ == "__main__":
    sys.exit(main())
