"""
A third-party client doing the authorization code flow with a session created WITHOUT a
redirect URI, as apps relying on their single registered URI do. Driven by
test/clients/python-clients.test.ts, under Debian's /usr/bin/python3.

Usage: code_exchange.py authlib|requests-oauthlib AUTHORIZE_URL TOKEN_URL
Environment: CLIENT_ID, CLIENT_SECRET (empty for a public client, which then uses PKCE S256).
Protocol: prints {"authorization_url": ...} on one line, reads the callback URL the browser
landed on from one line of stdin, then prints {"token": {...}} (or exits 1 with the error on
stderr).
"""
import json
import os
import secrets
import sys

# The test server speaks plain HTTP on loopback; both libraries refuse that unless told.
os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"


def emit(value):
    print(json.dumps(value), flush=True)


def with_authlib(authorize_url, token_url, client_id, client_secret):
    from authlib.integrations.requests_client import OAuth2Session

    if client_secret:
        session = OAuth2Session(client_id, client_secret)  # client_secret_basic, no redirect_uri
        url, state = session.create_authorization_url(authorize_url)
        extra = {}
    else:
        session = OAuth2Session(client_id, token_endpoint_auth_method="none", code_challenge_method="S256")
        verifier = secrets.token_urlsafe(48)
        url, state = session.create_authorization_url(authorize_url, code_verifier=verifier)
        extra = {"code_verifier": verifier}
    emit({"authorization_url": url})
    callback = sys.stdin.readline().strip()
    return session.fetch_token(token_url, authorization_response=callback, state=state, **extra)


def with_requests_oauthlib(authorize_url, token_url, client_id, client_secret):
    from requests_oauthlib import OAuth2Session

    if not client_secret:
        raise SystemExit("requests-oauthlib 1.3 has no PKCE: use a confidential client")
    session = OAuth2Session(client_id)  # no redirect_uri
    url, _state = session.authorization_url(authorize_url)
    emit({"authorization_url": url})
    callback = sys.stdin.readline().strip()
    # With a secret, requests-oauthlib authenticates with HTTP Basic; the state is checked.
    return session.fetch_token(token_url, authorization_response=callback, client_secret=client_secret)


def main():
    library, authorize_url, token_url = sys.argv[1:4]
    client_id = os.environ["CLIENT_ID"]
    client_secret = os.environ.get("CLIENT_SECRET") or None
    run = {"authlib": with_authlib, "requests-oauthlib": with_requests_oauthlib}[library]
    try:
        token = run(authorize_url, token_url, client_id, client_secret)
    except Exception as error:  # report what the library said, for the test's failure message
        print(f"{library}: {type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)
    emit({"token": dict(token)})


if __name__ == "__main__":
    main()
